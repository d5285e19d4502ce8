using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.State;

/// <summary>
/// Per-container directories under <c>&lt;root&gt;/containers/&lt;id&gt;</c>: config.json, the overlay's
/// upper and work dirs, the rootfs mount point, and hostname/hosts/resolv.conf. The process that owns a
/// container holds an exclusive flock on the directory itself for as long as it runs; a directory that
/// can be locked belongs to a crashed incrun and is removed by the next command (<see cref="ReapStale"/>).
/// A directory is made under a dot-name, locked, then renamed into place, so no other command can see it
/// unlocked.
/// </summary>
public sealed class ContainerDirs : IDisposable
{
    public string Id { get; }
    public string Path { get; }
    int _lockFd;

    ContainerDirs(string id, string path, int lockFd)
    {
        Id = id;
        Path = path;
        _lockFd = lockFd;
    }

    public string Rootfs => System.IO.Path.Combine(Path, "rootfs");
    public string Upper => System.IO.Path.Combine(Path, "upper");
    public string Work => System.IO.Path.Combine(Path, "work");
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public static string ContainersRoot(string stateRoot) => System.IO.Path.Combine(stateRoot, "containers");

    public static unsafe string NewId()
    {
        // getrandom(2) directly: RandomNumberGenerator would load OpenSSL (milliseconds) on every run.
        Span<byte> bytes = stackalloc byte[32];
        fixed (byte* p = bytes)
            if (Libc.getrandom(p, 32, 0) != 32) throw new RuntimeError("getrandom", null, Libc.Errno);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>Records the host pid of the container's PID 1 (file <c>pid</c>, replaced atomically).</summary>
    public void WritePid(int pid)
    {
        var temp = File(".pid");
        System.IO.File.WriteAllText(temp, pid.ToString());
        System.IO.File.Move(temp, File("pid"), overwrite: true);
    }

    /// <summary>The host pid of a running container's PID 1: the one place that knows where it is kept.
    /// Valid while the container's directory is locked (its incrun has not reaped PID 1).</summary>
    public static int ReadPid(string stateRoot, string id)
    {
        var file = System.IO.Path.Combine(ContainersRoot(stateRoot), id, "pid");
        try
        {
            if (int.TryParse(System.IO.File.ReadAllText(file).Trim(), out var pid) && pid > 0) return pid;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        throw RuntimeError.Plain($"container {id[..Math.Min(12, id.Length)]} is not running", 1);
    }

    /// <summary>Creates and locks the directory of a new container.</summary>
    public static ContainerDirs Create(string stateRoot, string id)
    {
        var root = ContainersRoot(stateRoot);
        var path = System.IO.Path.Combine(root, id);
        var temp = System.IO.Path.Combine(root, "." + id);
        try
        {
            Directory.CreateDirectory(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw RuntimeError.Plain($"create container dir {temp}: {e.Message}");
        }
        int fd = Libc.open(temp, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0 || Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) < 0 || Libc.rename(temp, path) < 0)
        {
            int errno = Libc.Errno;
            if (fd >= 0) Libc.close(fd);
            Remove(temp);
            throw new RuntimeError("lock", path, errno);
        }
        var dirs = new ContainerDirs(id, path, fd);
        foreach (var d in new[] { dirs.Rootfs, dirs.Upper, dirs.Work }) Directory.CreateDirectory(d);
        return dirs;
    }

    /// <summary>Removes the directory (the lock goes with it).</summary>
    public void Dispose()
    {
        if (_lockFd < 0) return;
        Remove(Path);
        Libc.close(_lockFd);
        _lockFd = -1;
    }

    /// <summary>Removes container directories left by an incrun that crashed or was killed: those that
    /// can be locked. A dot-named one is being created; it is removed only when a minute old.</summary>
    public static int ReapStale(string stateRoot)
    {
        var root = ContainersRoot(stateRoot);
        if (!Directory.Exists(root)) return 0;
        int reaped = 0;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            if (System.IO.Path.GetFileName(dir).StartsWith('.') &&
                DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) < TimeSpan.FromMinutes(1)) continue;
            int fd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            if (fd < 0) continue;
            try
            {
                if (Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) < 0) continue; // its incrun is alive
                RemoveCgroup(dir);
                Remove(dir);
                reaped++;
            }
            finally { Libc.close(fd); }
        }
        return reaped;
    }

    /// <summary>A dead container's processes are gone (they die with incrun), so its cgroup is empty:
    /// remove it, from the path its config.json names (or the default one).</summary>
    static void RemoveCgroup(string dir)
    {
        var name = System.IO.Path.GetFileName(dir).TrimStart('.');
        string path = $"/{Run.ResourceParser.DefaultCgroupParent}/{name}";
        try
        {
            var spec = System.Text.Json.JsonSerializer.Deserialize(System.IO.File.ReadAllBytes(System.IO.Path.Combine(dir, "config.json")), Oci.OciJson.Default.Spec);
            if (spec?.Linux?.CgroupsPath is { Length: > 0 } p) path = p;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { }
        try { new Cgroups.ContainerCgroup(Cgroups.CgroupLayout.Detect(), path).Remove(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Detaches anything still mounted below <paramref name="dir"/> (nothing should be: the
    /// container's mounts live in its own mount namespace) and deletes the tree without following links.</summary>
    static void Remove(string dir)
    {
        var prefix = dir.TrimEnd('/') + "/";
        try
        {
            foreach (var line in System.IO.File.ReadLines("/proc/self/mountinfo").Reverse())
            {
                var mountPoint = line.Split(' ')[4].Replace("\\040", " ");
                if (mountPoint.StartsWith(prefix, StringComparison.Ordinal)) Libc.umount2(mountPoint, 2 /* MNT_DETACH */);
            }
        }
        catch (IOException) { }
        try { Directory.Delete(dir, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // overlay's work dir holds a mode-000 "work" subdir; make it deletable and retry once
            foreach (var d in Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories))
                try { System.IO.File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); } catch (IOException) { }
            Directory.Delete(dir, recursive: true);
        }
    }
}
