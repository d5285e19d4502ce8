using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.State;

/// <summary>
/// Per-container directories under <c>&lt;root&gt;/containers/&lt;id&gt;</c>: config.json, state.json, the
/// overlay's upper and work dirs, the rootfs mount point, hostname/hosts/resolv.conf and the log. The
/// process that supervises a container (the foreground <c>incrun run</c>, or the container's supervisor)
/// holds an exclusive flock on the directory itself for as long as the container runs. A directory whose
/// state says running but that can be locked belongs to a supervisor that died: the next command marks
/// it exited and cleans up after it (<see cref="ReapStale"/>). A directory is made under a dot-name,
/// locked, then renamed into place, so no other command can see it unlocked.
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
    /// <summary>The directory lock's fd (handed to a supervisor process, which then holds the lock).</summary>
    public int LockFd => _lockFd;

    /// <summary>The container's OCI spec (config.json), or null if it is missing or unreadable.</summary>
    public Oci.Spec? ReadSpec() => new ContainerEntry(Path, new ContainerState { Id = Id }, true).ReadSpec();

    public static string ContainersRoot(string stateRoot) => System.IO.Path.Combine(stateRoot, "containers");

    public static unsafe string NewId()
    {
        // getrandom(2) directly: RandomNumberGenerator would load OpenSSL (milliseconds) on every run.
        Span<byte> bytes = stackalloc byte[32];
        fixed (byte* p = bytes)
            if (Libc.getrandom(p, 32, 0) != 32) throw new RuntimeError("getrandom", null, Libc.Errno);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>The host pid of a running container's PID 1 (state.json, written once init has exec'd
    /// the command): the one place `exec` asks. Valid while a live incrun supervises the container (it has
    /// not reaped PID 1). docker's errors for a container that is not running or is paused.</summary>
    public static int ReadPid(string stateRoot, string id)
    {
        var state = ContainerStore.Read(System.IO.Path.Combine(ContainersRoot(stateRoot), id));
        return state switch
        {
            { Status: ContainerState.Running, Pid: > 0 } => state.Pid,
            { Status: ContainerState.Paused } => throw RuntimeError.Plain($"Container {id} is paused, unpause the container before exec", 1),
            _ => throw RuntimeError.Plain($"container {id} is not running", 1),
        };
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
            throw RuntimeError.Plain($"create container dir {temp}: {RuntimeError.IoText(e)}");
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

    /// <summary>Locks an existing container's directory; null if another incrun supervises it.</summary>
    public static ContainerDirs? TryLock(string dir)
    {
        int fd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new RuntimeError("open", dir, Libc.Errno);
        if (Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) < 0)
        {
            Libc.close(fd);
            return null;
        }
        if (!Directory.Exists(dir)) { Libc.close(fd); return null; } // removed meanwhile
        return new ContainerDirs(System.IO.Path.GetFileName(dir), dir, fd);
    }

    /// <summary>The supervisor's side: the lock arrives as an inherited fd.</summary>
    public static ContainerDirs Adopt(string dir, int lockFd) => new(System.IO.Path.GetFileName(dir), dir, lockFd);

    /// <summary>Whether a live incrun holds the directory lock.</summary>
    public static bool IsLocked(string dir)
    {
        int fd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0) return false;
        try
        {
            if (Libc.flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) < 0) return true;
            Libc.flock(fd, Libc.LOCK_UN);
            return false;
        }
        finally { Libc.close(fd); }
    }

    /// <summary>Waits until no incrun holds the directory lock (the supervisor has finished); false on timeout.</summary>
    public static bool WaitUnlocked(string dir, TimeSpan timeout)
    {
        var until = timeout == Timeout.InfiniteTimeSpan ? DateTime.MaxValue : DateTime.UtcNow + timeout;
        while (IsLocked(dir))
        {
            if (DateTime.UtcNow > until) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    /// <summary>Releases the lock and keeps the directory (a stopped container).</summary>
    public void Dispose()
    {
        if (_lockFd < 0) return;
        Libc.close(_lockFd);
        _lockFd = -1;
    }

    /// <summary>Removes the directory (the lock goes with it).</summary>
    public void Delete()
    {
        if (_lockFd < 0) return;
        Remove(Path);
        Dispose();
    }

    /// <summary>Cleans up after incrun processes that crashed or were killed: a directory that can be
    /// locked and has no state yet is a start that never finished (removed); one whose state says it is
    /// running lost its supervisor, and with it its processes (parent-death signal): its cgroup goes,
    /// and it is marked exited, or removed if it was started with --rm. A dot-named directory is being
    /// created; it is removed only when a minute old.</summary>
    public static int ReapStale(string stateRoot)
    {
        var root = ContainersRoot(stateRoot);
        if (!Directory.Exists(root)) return 0;
        int reaped = 0;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            bool creating = System.IO.Path.GetFileName(dir).StartsWith('.');
            if (creating && DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) < TimeSpan.FromMinutes(1)) continue;
            int fd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            if (fd < 0) continue;
            try
            {
                if (Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) < 0) continue; // its incrun is alive
                var state = creating ? null : ContainerStore.Read(dir);
                if (state is not null && !state.IsActive) continue;               // a stopped container
                RemoveCgroup(dir);
                Network.ContainerCleanup.Run(stateRoot, dir);
                if (state is null || state.AutoRemove) Remove(dir);
                else
                    ContainerStore.Update(dir, s =>
                    {
                        s.Status = ContainerState.Exited;
                        s.ExitCode = 255;
                        s.Pid = 0;
                        s.FinishedAt = DateTime.UtcNow;
                        s.Error = "the container's incrun supervisor died";
                    });
                reaped++;
            }
            finally { Libc.close(fd); }
        }
        return reaped;
    }

    /// <summary>Removes a stopped container's leftovers outside its directory (cgroup, network).</summary>
    public static void CleanupOutside(string stateRoot, string dir)
    {
        RemoveCgroup(dir);
        Network.ContainerCleanup.Run(stateRoot, dir);
    }

    /// <summary>A dead container's processes are gone (they die with incrun), so its cgroup is empty:
    /// remove it, from the path its config.json names (or the default one).</summary>
    internal static void RemoveCgroup(string dir)
    {
        var name = System.IO.Path.GetFileName(dir).TrimStart('.');
        string path = $"/{Run.ResourceParser.DefaultCgroupParent}/{name}";
        try
        {
            var spec = Oci.SpecReader.Read(System.IO.File.ReadAllBytes(System.IO.Path.Combine(dir, "config.json")));
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
