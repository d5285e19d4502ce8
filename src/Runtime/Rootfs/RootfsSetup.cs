using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.Syscalls;
using static Inception.Runtime.Syscalls.MountFlags;

namespace Inception.Runtime.Rootfs;

/// <summary>
/// Builds the container's root filesystem inside its new mount namespace, in the order runc does:
/// mount propagation, the root (overlay or bind), the spec's mounts (targets resolved inside the root,
/// never through an escaping symlink), /dev nodes, pivot_root and detach of the old root, masked and
/// read-only paths, and finally a read-only root if asked.
/// </summary>
/// <param name="rootMount">a detached mount of the root filesystem the runtime built (a user namespace's
/// overlay over idmapped layers), moved into place instead of mounting the overlay here; or -1</param>
internal sealed unsafe class RootfsSetup(ISyscalls sys, Spec spec, string bundle, int rootMount = -1)
{
    public string RootPath { get; } = Path.GetFullPath(spec.Root?.Path ?? "rootfs", bundle);

    /// <summary>In a new user namespace mknod is not allowed: devices are bind mounts of the host's nodes (as runc does).</summary>
    readonly bool _userns = spec.Linux?.Creates("user") == true;

    static readonly (string Name, uint Major, uint Minor)[] Devices =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

    static readonly (string Target, string Name)[] DevLinks =
        [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
         ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"), ("/proc/kcore", "core")];

    /// <summary>Everything up to and including pivot_root; the caller is then inside the new root.
    /// <paramref name="beforePivot"/> runs once the mounts are made (the OCI createContainer hooks).</summary>
    public void Prepare(Action? beforePivot = null)
    {
        var propagation = MountOptions.PropagationOf(spec.Linux?.RootfsPropagation);
        if (propagation == 0) propagation = MS_SLAVE | MS_REC;
        Check(sys.Mount(null, "/", null, propagation, null), "mount", "/ (propagation)");

        var a = spec.Annotations;
        if (rootMount >= 0)
        {
            Check(sys.MoveMount(rootMount, RootPath), "move_mount", RootPath);
            sys.Close(rootMount);
        }
        else if (a is not null && a.TryGetValue(IncrunAnnotations.OverlayLower, out var lower))
        {
            var data = IncrunAnnotations.OverlayOptions(lower, a[IncrunAnnotations.OverlayUpper], a[IncrunAnnotations.OverlayWork]);
            Check(sys.Mount("overlay", RootPath, "overlay", 0, data), "mount overlay", RootPath);
        }
        else
        {
            // pivot_root needs the new root to be a mount point.
            Check(sys.Mount(RootPath, RootPath, null, MS_BIND | MS_REC, null), "mount", RootPath);
        }

        int rootFd = Check(Libc.open(RootPath, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0) is var fd and >= 0 ? fd : -Libc.Errno,
            "open", RootPath);
        try
        {
            foreach (var m in spec.Mounts) MountOne(rootFd, m);
            if (spec.Mounts.Any(m => m.Destination == "/dev" && m.Type == "tmpfs")) CreateDevices(rootFd);
            foreach (var d in spec.Linux?.Devices ?? []) CreateDevice(rootFd, d);
        }
        finally { Libc.close(rootFd); }

        beforePivot?.Invoke();
        Check(sys.Chdir(RootPath), "chdir", RootPath);
        Check(sys.PivotRoot(".", "."), "pivot_root", RootPath);
        Check(sys.Umount(".", MNT_DETACH), "umount2", "old root");
        Check(sys.Chdir("/"), "chdir", "/");
    }

    /// <summary>After pivot_root: masked and read-only paths, then the read-only root.</summary>
    public void Finish()
    {
        foreach (var p in spec.Linux?.MaskedPaths ?? []) Mask(p);
        foreach (var p in spec.Linux?.ReadonlyPaths ?? []) MakeReadonly(p);
        if (spec.Root?.Readonly == true)
            Check(sys.Mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY, null), "remount read-only", "/");
    }

    /// <summary>After pivot_root: creates the working directory (and its parents) inside the new root,
    /// as docker creates a missing WORKDIR. Must run before a read-only root is remounted.</summary>
    public void EnsureDirectory(string path)
    {
        int rootFd = Libc.open("/", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (rootFd < 0) throw new RuntimeError("open", "/", Libc.Errno);
        try { EnsureInRoot(rootFd, path, isDir: true); }
        finally { Libc.close(rootFd); }
    }

    void MountOne(int rootFd, Mount m)
    {
        if (!m.Destination.StartsWith('/'))
            throw RuntimeError.Plain($"mount destination \"{m.Destination}\" is not an absolute path");
        var o = MountOptions.Parse(m.Options);
        if (o.IsBind)
        {
            var source = Path.GetFullPath(m.Source ?? throw RuntimeError.Plain($"bind mount at {m.Destination} has no source"), bundle);
            bool isDir = Directory.Exists(source);
            if (!isDir && !File.Exists(source)) throw new RuntimeError("mount", source, 2 /* ENOENT */);
            EnsureInRoot(rootFd, m.Destination, isDir);
            WithTarget(rootFd, m.Destination, fd =>
                sys.MountAt(source, fd, m.Destination, null, MS_BIND | (o.Flags & MS_REC), null));
            var extra = o.Flags & ~(MS_BIND | MS_REC);
            if (extra != 0)
                WithTarget(rootFd, m.Destination, fd =>
                    sys.MountAt(null, fd, m.Destination, null, MS_BIND | MS_REMOUNT | extra, null));
        }
        else
        {
            EnsureInRoot(rootFd, m.Destination, isDir: true);
            WithTarget(rootFd, m.Destination, fd =>
                sys.MountAt(m.Source ?? m.Type, fd, m.Destination, m.Type, o.Flags, o.Data));
        }
        if (o.Propagation != 0)
            WithTarget(rootFd, m.Destination, fd => sys.MountAt(null, fd, m.Destination, null, o.Propagation, null));
    }

    /// <summary>Opens the target inside the root afresh (so it sees mounts made just before) and mounts on it.</summary>
    void WithTarget(int rootFd, string path, Func<int, int> mount)
    {
        int fd = Check(sys.OpenInRoot(rootFd, path, Libc.O_PATH, 0), "open in rootfs", path);
        try { Check(mount(fd), "mount", path); }
        finally { sys.Close(fd); }
    }

    /// <summary>Creates each missing component of <paramref name="path"/> inside the root (directories,
    /// and a file at the end unless <paramref name="isDir"/>), resolving every step inside the root. A
    /// dangling symlink on the way is followed inside the root (as RESOLVE_IN_ROOT would) and its target
    /// created there, never on the host.</summary>
    void EnsureInRoot(int rootFd, string path, bool isDir, int depth = 0)
    {
        if (depth > 40) throw new RuntimeError("mkdir", path, 40 /* ELOOP */);
        int existing = sys.OpenInRoot(rootFd, path, Libc.O_PATH, 0);
        if (existing >= 0) { sys.Close(existing); return; }
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int dirFd = Check(Libc.dup(rootFd) is var d and >= 0 ? d : -Libc.Errno, "dup", RootPath);
        try
        {
            for (int i = 0; i < parts.Length; i++)
            {
                bool last = i == parts.Length - 1;
                var sub = "/" + string.Join('/', parts, 0, i + 1);
                int next = sys.OpenInRoot(rootFd, sub, Libc.O_PATH, 0);
                if (next == -2 /* ENOENT */)
                {
                    bool file = last && !isDir;
                    int r = file ? sys.CreateFileAt(dirFd, parts[i], 0x1a4 /* 0644 */) : sys.MkdirAt(dirFd, parts[i], 0x1ed /* 0755 */);
                    if (r == -17 /* EEXIST */ && ReadLink(dirFd, parts[i]) is { } target)
                    {
                        var parent = "/" + string.Join('/', parts, 0, i);
                        EnsureInRoot(rootFd, ContainerPath.Clean(target.StartsWith('/') ? target : parent + "/" + target), !file, depth + 1);
                    }
                    else if (r < 0 && r != -17) throw new RuntimeError(file ? "create mount point" : "mkdir", sub, -r);
                    next = sys.OpenInRoot(rootFd, sub, Libc.O_PATH, 0);
                }
                Check(next, "open in rootfs", sub);
                sys.Close(dirFd);
                dirFd = next;
            }
        }
        finally { sys.Close(dirFd); }
    }

    static unsafe string? ReadLink(int dirFd, string name)
    {
        byte* buf = stackalloc byte[4096];
        nint n = Libc.readlinkat(dirFd, name, buf, 4096);
        return n <= 0 ? null : System.Text.Encoding.UTF8.GetString(buf, (int)n);
    }

    void CreateDevices(int rootFd)
    {
        int dev = Check(sys.OpenInRoot(rootFd, "/dev", Libc.O_PATH | Libc.O_DIRECTORY, 0), "open in rootfs", "/dev");
        try
        {
            var old = Libc.umask(0);
            try
            {
                foreach (var (name, major, minor) in Devices)
                {
                    if (_userns) { BindDevice(rootFd, "/dev/" + name); continue; }
                    int r = sys.MknodAt(dev, name, 0x2000 /* S_IFCHR */ | 0x1b6 /* 0666 */, major, minor);
                    if (r < 0 && r != -17) throw new RuntimeError("mknod", "/dev/" + name, -r);
                }
            }
            finally { Libc.umask(old); }
            foreach (var (target, name) in DevLinks)
            {
                int r = sys.SymlinkAt(target, dev, name);
                if (r < 0 && r != -17) throw new RuntimeError("symlink", "/dev/" + name, -r);
            }
        }
        finally { sys.Close(dev); }
    }

    /// <summary>A device of linux.devices (docker's --device), made at its path inside the root.</summary>
    void CreateDevice(int rootFd, LinuxDevice d)
    {
        if (!d.Path.StartsWith('/')) throw RuntimeError.Plain($"device path \"{d.Path}\" is not absolute");
        if (_userns) { BindDevice(rootFd, d.Path); return; }
        var parent = Path.GetDirectoryName(d.Path)!;
        EnsureInRoot(rootFd, parent, isDir: true);
        int dir = Check(sys.OpenInRoot(rootFd, parent, Libc.O_PATH | Libc.O_DIRECTORY, 0), "open in rootfs", parent);
        try
        {
            uint type = d.Type == "b" ? 0x6000u : 0x2000u;
            var old = Libc.umask(0);
            int r;
            try { r = sys.MknodAt(dir, Path.GetFileName(d.Path), type | (d.FileMode ?? 0x1b6 /* 0666 */), (uint)d.Major, (uint)d.Minor); }
            finally { Libc.umask(old); }
            if (r < 0 && r != -17) throw new RuntimeError("mknod", d.Path, -r);
        }
        finally { sys.Close(dir); }
    }

    /// <summary>The host's node at the same path, bind-mounted onto an empty file inside the root.</summary>
    void BindDevice(int rootFd, string path)
    {
        if (!File.Exists(path)) throw new RuntimeError("bind device", path, 2 /* ENOENT */, "in a user namespace a device is a bind mount of the host's node at the same path");
        EnsureInRoot(rootFd, path, isDir: false);
        WithTarget(rootFd, path, fd => sys.MountAt(path, fd, path, null, MS_BIND, null));
    }

    void Mask(string path)
    {
        if (Directory.Exists(path))
            Check(sys.Mount("tmpfs", path, "tmpfs", MS_RDONLY, null), "mask", path);
        else if (File.Exists(path))
            Check(sys.Mount("/dev/null", path, null, MS_BIND, null), "mask", path);
    }

    void MakeReadonly(string path)
    {
        if (!Path.Exists(path)) return;
        Check(sys.Mount(path, path, null, MS_BIND | MS_REC, null), "mount", path);
        Check(sys.Mount(null, path, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null),
            "remount read-only", path);
    }

    static int Check(int result, string step, string subject) =>
        result < 0 ? throw new RuntimeError(step, subject, -result) : result;
}
