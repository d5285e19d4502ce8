namespace Inception.Runtime.Syscalls;

/// <summary>
/// The seam between container logic and the kernel: one method per kernel step, each returning 0 (or an
/// fd) on success and a negative errno on failure. <see cref="LinuxSyscalls"/> is the real one,
/// <see cref="TracingSyscalls"/> narrates any implementation for --explain, and tests record calls.
/// </summary>
public interface ISyscalls
{
    int Mount(string? source, string target, string? fstype, ulong flags, string? data);
    /// <summary>mount(2) onto an fd opened with <see cref="OpenInRoot"/> (through /proc/self/fd), so a
    /// symlink swapped into the rootfs cannot redirect the mount. <paramref name="shownAs"/> is the
    /// container path, for traces and errors.</summary>
    int MountAt(string? source, int targetFd, string shownAs, string? fstype, ulong flags, string? data);
    int Umount(string target, int flags);
    /// <summary>move_mount(2) of a detached mount (an fd from open_tree) onto <paramref name="target"/>.</summary>
    int MoveMount(int fromFd, string target);
    int PivotRoot(string newRoot, string putOld);
    int Chdir(string path);
    int SetHostname(string name);
    int SetDomainName(string name);
    /// <summary>personality(2): the execution domain (0 LINUX, 8 LINUX32).</summary>
    int SetPersonality(uint persona);
    int MkdirAt(int dirFd, string name, uint mode);
    /// <summary>Creates an empty regular file (a bind-mount target) if it does not exist.</summary>
    int CreateFileAt(int dirFd, string name, uint mode);
    int MknodAt(int dirFd, string name, uint mode, uint major, uint minor);
    int SymlinkAt(string target, int dirFd, string name);
    /// <summary>Opens <paramref name="path"/> inside <paramref name="rootFd"/> as if it were "/"
    /// (openat2 RESOLVE_IN_ROOT): symlinks cannot lead out of the root. Returns an fd.</summary>
    int OpenInRoot(int rootFd, string path, int flags, uint mode);
    int Close(int fd);
    int SetGroups(uint[] gids);
    int SetResGid(uint gid);
    int SetResUid(uint uid);
    int InterfaceUp(string name);
    /// <summary>prctl(PR_CAPBSET_DROP): the capability can never be regained, even by exec'ing a setuid binary.</summary>
    int DropBoundingCapability(int cap);
    /// <summary>prctl(PR_SET_KEEPCAPS): keep permitted capabilities across the switch away from uid 0.</summary>
    int SetKeepCapabilities(bool keep);
    /// <summary>capset(2) of the effective, permitted and inheritable sets (bit masks).</summary>
    int SetCapabilities(ulong effective, ulong permitted, ulong inheritable);
    /// <summary>prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE).</summary>
    int RaiseAmbientCapability(int cap);
    /// <summary>prctl(PR_SET_NO_NEW_PRIVS): exec can never grant more privileges (setuid bits, file caps).</summary>
    int SetNoNewPrivileges();
    /// <summary>prlimit(2) on this process.</summary>
    int SetRlimit(int resource, ulong soft, ulong hard);
    /// <summary>Writes a kernel parameter under /proc/sys (name in dotted form: net.ipv4.ip_forward).</summary>
    int SetSysctl(string name, string value);
    /// <summary>Writes /proc/self/oom_score_adj.</summary>
    int SetOomScoreAdj(int value);
    /// <summary>seccomp(SECCOMP_SET_MODE_FILTER, flags, program): from now on the kernel checks every system call
    /// of this thread (and, after execve, of the command) against the classic-BPF program (8-byte sock_filter
    /// records). Needs no_new_privs or CAP_SYS_ADMIN.</summary>
    int SetSeccompFilter(byte[] program, uint flags);
    int Exec(string path, IReadOnlyList<string> argv, IReadOnlyList<string> env);
}

/// <summary>Mount flag values (linux/mount.h) and their names for traces.</summary>
public static class MountFlags
{
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_SYNCHRONOUS = 16,
        MS_REMOUNT = 32, MS_MANDLOCK = 64, MS_DIRSYNC = 128, MS_NOSYMFOLLOW = 256, MS_NOATIME = 1024,
        MS_NODIRATIME = 2048, MS_BIND = 4096, MS_MOVE = 8192, MS_REC = 16384, MS_SILENT = 32768,
        MS_UNBINDABLE = 1 << 17, MS_PRIVATE = 1 << 18, MS_SLAVE = 1 << 19, MS_SHARED = 1 << 20,
        MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24, MS_LAZYTIME = 1 << 25;

    public const int MNT_DETACH = 2;

    static readonly (ulong Flag, string Name)[] Names =
    [
        (MS_RDONLY, "MS_RDONLY"), (MS_NOSUID, "MS_NOSUID"), (MS_NODEV, "MS_NODEV"), (MS_NOEXEC, "MS_NOEXEC"),
        (MS_SYNCHRONOUS, "MS_SYNCHRONOUS"), (MS_REMOUNT, "MS_REMOUNT"), (MS_MANDLOCK, "MS_MANDLOCK"),
        (MS_DIRSYNC, "MS_DIRSYNC"), (MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"), (MS_NOATIME, "MS_NOATIME"),
        (MS_NODIRATIME, "MS_NODIRATIME"), (MS_BIND, "MS_BIND"), (MS_MOVE, "MS_MOVE"), (MS_REC, "MS_REC"),
        (MS_SILENT, "MS_SILENT"), (MS_UNBINDABLE, "MS_UNBINDABLE"), (MS_PRIVATE, "MS_PRIVATE"),
        (MS_SLAVE, "MS_SLAVE"), (MS_SHARED, "MS_SHARED"), (MS_RELATIME, "MS_RELATIME"),
        (MS_STRICTATIME, "MS_STRICTATIME"), (MS_LAZYTIME, "MS_LAZYTIME"),
    ];

    public static string Format(ulong flags)
    {
        if (flags == 0) return "0";
        var parts = new List<string>();
        foreach (var (flag, name) in Names)
            if ((flags & flag) != 0) parts.Add(name);
        return string.Join('|', parts);
    }
}
