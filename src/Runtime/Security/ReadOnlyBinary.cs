using Inception.Runtime.Native;

namespace Inception.Runtime.Security;

/// <summary>
/// CVE-2019-5736: a container must never get a writable handle on the incrun binary. Init is incrun
/// re-executed inside the container's namespaces, so /proc/1/exe of a container that has not exec'd
/// yet — or of a process started through a <c>#!/proc/self/exe</c> entry point — leads to the binary.
/// Init is therefore exec'd from a private read-only bind mount of the binary (open_tree
/// OPEN_TREE_CLONE + mount_setattr MOUNT_ATTR_RDONLY: a detached mount, in no mount table): every path
/// to the file through /proc/PID/exe, even an O_PATH fd reopened after the process exited, is on that
/// mount, and opening it for writing fails with EROFS. ~20 µs, against ~3 ms (idle machine) for a
/// sealed memfd copy of the 8 MB binary, which is the fallback for kernels without mount_setattr (5.12).
/// </summary>
internal static unsafe class ReadOnlyBinary
{
    const long SYS_open_tree = 428, SYS_mount_setattr = 442, SYS_memfd_create = 319, SYS_sendfile = 40, SYS_lseek = 8;
    const int OPEN_TREE_CLONE = 1, MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2, F_ADD_SEALS = 1033;
    const int F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;
    const ulong MOUNT_ATTR_RDONLY = 1, MOUNT_ATTR_NOSUID = 2, MOUNT_ATTR_NODEV = 4;

    /// <summary>Forces the sealed-memfd way (for tests and the benchmark): INCRUN_REEXEC=memfd.</summary>
    public const string ModeVariable = "INCRUN_REEXEC";

    /// <summary>An O_CLOEXEC fd of this process's own binary that cannot be written through, and how it
    /// was made ("read-only mount" or "sealed memfd"). Throws if neither works.</summary>
    public static (int Fd, string How) Open()
    {
        if (Environment.GetEnvironmentVariable(ModeVariable) != "memfd")
        {
            int fd;
            fixed (byte* self = "/proc/self/exe\0"u8)
                fd = (int)Libc.syscall(SYS_open_tree, Libc.AT_FDCWD, (nint)self, OPEN_TREE_CLONE | Libc.O_CLOEXEC, 0);
            if (fd >= 0)
            {
                ulong* attr = stackalloc ulong[4]; // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
                attr[0] = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
                attr[1] = attr[2] = attr[3] = 0;
                long r;
                fixed (byte* empty = "\0"u8)
                    r = Libc.syscall5(SYS_mount_setattr, fd, (nint)empty, Libc.AT_EMPTY_PATH, (nint)attr, 32);
                if (r == 0) return (fd, "read-only mount");
                Libc.close(fd);
            }
        }
        return (SealedCopy(), "sealed memfd");
    }

    /// <summary>A copy of the binary in memory, sealed against any write, shrink or growth.</summary>
    static int SealedCopy()
    {
        int src = Libc.open("/proc/self/exe", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (src < 0) throw new Errors.RuntimeError("open", "/proc/self/exe", Libc.Errno);
        int memfd = -1;
        try
        {
            fixed (byte* name = "incrun\0"u8)
                memfd = (int)Libc.syscall(SYS_memfd_create, (nint)name, MFD_CLOEXEC | MFD_ALLOW_SEALING, 0, 0);
            if (memfd < 0) throw new Errors.RuntimeError("memfd_create", "incrun", Libc.Errno);
            long size = Libc.syscall(SYS_lseek, src, 0, 2 /* SEEK_END */, 0);
            Libc.syscall(SYS_lseek, src, 0, 0, 0);
            for (long left = size; left > 0;)
            {
                long n = Libc.syscall(SYS_sendfile, memfd, src, 0, (nint)left);
                if (n <= 0) throw new Errors.RuntimeError("sendfile", "/proc/self/exe", n < 0 ? Libc.Errno : 5 /* EIO */);
                left -= n;
            }
            if (Libc.fcntl(memfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
                throw new Errors.RuntimeError("fcntl", "F_ADD_SEALS", Libc.Errno);
            int result = memfd;
            memfd = -1;
            return result;
        }
        finally
        {
            Libc.close(src);
            if (memfd >= 0) Libc.close(memfd);
        }
    }
}
