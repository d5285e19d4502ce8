using Inception.Runtime.Native;

namespace Inception.Runtime.Syscalls;

/// <summary>The real kernel.</summary>
public sealed unsafe class LinuxSyscalls : ISyscalls
{
    public static readonly LinuxSyscalls Instance = new();

    static int R(int result) => result < 0 ? -Libc.Errno : result;
    static int R(long result) => result < 0 ? -Libc.Errno : (int)result;

    public int Mount(string? source, string target, string? fstype, ulong flags, string? data) =>
        R(Libc.mount(source, target, fstype, flags, data));

    public int MountAt(string? source, int targetFd, string shownAs, string? fstype, ulong flags, string? data) =>
        R(Libc.mount(source, $"/proc/self/fd/{targetFd}", fstype, flags, data));

    public int Umount(string target, int flags) => R(Libc.umount2(target, flags));

    public unsafe int MoveMount(int fromFd, string target)
    {
        const long SYS_move_mount = 429;
        const int MOVE_MOUNT_F_EMPTY_PATH = 0x4;
        byte empty = 0;
        var bytes = System.Text.Encoding.UTF8.GetBytes(target + "\0");
        fixed (byte* t = bytes)
            return R((int)Libc.syscall5(SYS_move_mount, fromFd, (nint)(&empty), Libc.AT_FDCWD, (nint)t, MOVE_MOUNT_F_EMPTY_PATH));
    }
    public int PivotRoot(string newRoot, string putOld) => R(Libc.PivotRoot(newRoot, putOld));
    public int Chdir(string path) => R(Libc.chdir(path));

    public int SetHostname(string name) =>
        R(Libc.sethostname(name, (nuint)System.Text.Encoding.UTF8.GetByteCount(name)));

    public int SetDomainName(string name) =>
        R(Libc.setdomainname(name, (nuint)System.Text.Encoding.UTF8.GetByteCount(name)));

    public int SetPersonality(uint persona) => R(Libc.personality(persona));

    public int MkdirAt(int dirFd, string name, uint mode) => R(Libc.mkdirat(dirFd, name, mode));

    public int CreateFileAt(int dirFd, string name, uint mode)
    {
        int fd = Libc.openat(dirFd, name, Libc.O_CREAT | Libc.O_WRONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, mode);
        if (fd < 0) return -Libc.Errno;
        Libc.close(fd);
        return 0;
    }

    public int MknodAt(int dirFd, string name, uint mode, uint major, uint minor) =>
        R(Libc.mknodat(dirFd, name, mode, Libc.MakeDev(major, minor)));

    public int SymlinkAt(string target, int dirFd, string name) => R(Libc.symlinkat(target, dirFd, name));

    public int OpenInRoot(int rootFd, string path, int flags, uint mode) =>
        R(Libc.OpenAt2(rootFd, path, (ulong)(flags | Libc.O_CLOEXEC), Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS, mode));

    public int Close(int fd) => R(Libc.close(fd));

    public int SetGroups(uint[] gids)
    {
        fixed (uint* p = gids) return R(Libc.setgroups((nuint)gids.Length, p));
    }

    public int SetResGid(uint gid) => R(Libc.setresgid(gid, gid, gid));
    public int SetResUid(uint uid) => R(Libc.setresuid(uid, uid, uid));

    public int InterfaceUp(string name)
    {
        int s = Libc.socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (s < 0) return -Libc.Errno;
        try
        {
            byte* ifr = stackalloc byte[40];
            new Span<byte>(ifr, 40).Clear();
            System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, 15));
            if (Libc.ioctl(s, Libc.SIOCGIFFLAGS, ifr) < 0) return -Libc.Errno;
            *(short*)(ifr + 16) |= 1; // IFF_UP
            return Libc.ioctl(s, Libc.SIOCSIFFLAGS, ifr) < 0 ? -Libc.Errno : 0;
        }
        finally { Libc.close(s); }
    }

    public int DropBoundingCapability(int cap) => R(Libc.prctl(24 /* PR_CAPBSET_DROP */, (nuint)cap, 0, 0, 0));

    public int SetKeepCapabilities(bool keep) => R(Libc.prctl(8 /* PR_SET_KEEPCAPS */, keep ? 1u : 0u, 0, 0, 0));

    public int SetCapabilities(ulong effective, ulong permitted, ulong inheritable)
    {
        uint* header = stackalloc uint[2];
        header[0] = 0x20080522; // _LINUX_CAPABILITY_VERSION_3
        header[1] = 0;          // this process
        uint* data = stackalloc uint[6];
        data[0] = (uint)effective; data[1] = (uint)permitted; data[2] = (uint)inheritable;
        data[3] = (uint)(effective >> 32); data[4] = (uint)(permitted >> 32); data[5] = (uint)(inheritable >> 32);
        return R(Libc.syscall(126 /* SYS_capset */, (nint)header, (nint)data, 0, 0));
    }

    public int RaiseAmbientCapability(int cap) => R(Libc.prctl(47 /* PR_CAP_AMBIENT */, 2 /* RAISE */, (nuint)cap, 0, 0));

    public int SetNoNewPrivileges() => R(Libc.prctl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));

    public int SetRlimit(int resource, ulong soft, ulong hard)
    {
        ulong* limits = stackalloc ulong[2];
        limits[0] = soft;
        limits[1] = hard;
        return R(Libc.prlimit(0, resource, limits, null));
    }

    public int SetSysctl(string name, string value) => WriteProc("/proc/sys/" + name.Replace('.', '/'), value);

    public int SetOomScoreAdj(int value) => WriteProc("/proc/self/oom_score_adj", value.ToString());

    static int WriteProc(string path, string value)
    {
        int fd = Libc.open(path, Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0) return -Libc.Errno;
        try
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(value);
            fixed (byte* p = bytes)
                return Libc.write(fd, p, (nuint)bytes.Length) < 0 ? -Libc.Errno : 0;
        }
        finally { Libc.close(fd); }
    }

    public int SetSeccompFilter(byte[] program, uint flags)
    {
        fixed (byte* filter = program)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            ulong* fprog = stackalloc ulong[2];
            fprog[0] = (ulong)(program.Length / 8);
            fprog[1] = (ulong)filter;
            return R(Libc.syscall(Libc.SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, (nint)flags, (nint)fprog, 0));
        }
    }

    public int Exec(string path, IReadOnlyList<string> argv, IReadOnlyList<string> env)
    {
        using var a = new CStringArray(argv);
        using var e = new CStringArray(env);
        Libc.execve(path, a.Pointer, e.Pointer);
        return -Libc.Errno;
    }

}
