using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.State;

/// <summary>
/// Per-container directories under <c>&lt;root&gt;/containers/&lt;id&gt;</c>: config.json, the overlay's
/// upper and work dirs, the rootfs mount point, and hostname/hosts/resolv.conf. The process that owns a
/// container holds an exclusive flock on its <c>lock</c> file for as long as it runs; a directory whose
/// lock can be taken belongs to a crashed incrun and is removed by the next command (<see cref="ReapStale"/>).
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

    /// <summary>Creates and locks the directory of a new container.</summary>
    public static ContainerDirs Create(string stateRoot, string id)
    {
        var path = System.IO.Path.Combine(ContainersRoot(stateRoot), id);
        try
        {
            Directory.CreateDirectory(ContainersRoot(stateRoot));
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw RuntimeError.Plain($"create container dir {path}: {e.Message}");
        }
        int fd = Libc.open(System.IO.Path.Combine(path, "lock"), Libc.O_CREAT | Libc.O_RDWR | Libc.O_CLOEXEC, 0x180);
        if (fd < 0 || Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) < 0)
        {
            int errno = Libc.Errno;
            if (fd >= 0) Libc.close(fd);
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

    /// <summary>Removes container directories left by an incrun that crashed or was killed. A directory
    /// without a lock file younger than a minute is one being created right now, and is left alone.</summary>
    public static int ReapStale(string stateRoot)
    {
        var root = ContainersRoot(stateRoot);
        if (!Directory.Exists(root)) return 0;
        int reaped = 0;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            var lockPath = System.IO.Path.Combine(dir, "lock");
            int fd = Libc.open(lockPath, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                if (DateTime.UtcNow - Directory.GetCreationTimeUtc(dir) < TimeSpan.FromMinutes(1)) continue;
                Remove(dir);
                reaped++;
                continue;
            }
            try
            {
                if (Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) < 0) continue; // alive
                Remove(dir);
                reaped++;
            }
            finally { Libc.close(fd); }
        }
        return reaped;
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
