using System.Runtime.InteropServices;

namespace Inception.Runtime.Native;

/// <summary>libc entry points used by the image store and the layer extractor.</summary>
internal static unsafe partial class Libc
{
    public const uint S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFLNK = 0xA000, S_IFREG = 0x8000, S_IFBLK = 0x6000,
        S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFIFO = 0x1000;

    public const int EEXIST = 17, ENOENT = 2, ENOTDIR = 20, EISDIR = 21, ENOTEMPTY = 39, EXDEV = 18,
        EOPNOTSUPP = 95, ELOOP = 40, EINTR = 4;

    /// <summary>struct stat as laid out by the x86_64 kernel/glibc ABI (144 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Stat
    {
        public ulong Dev, Ino, Nlink;
        public uint Mode, Uid, Gid;
        int _pad0;
        public ulong Rdev;
        public long Size, BlkSize, Blocks;
        public Timespec Atime, Mtime, Ctime;
        long _r0, _r1, _r2;
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fstatat(int dirfd, string path, Stat* st, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fstat(int fd, Stat* st);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int futimens(int fd, Timespec* times);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint lgetxattr(string path, string name, byte* value, nuint size);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int renameat(int olddirfd, string oldpath, int newdirfd, string newpath);

    /// <summary>glibc's makedev(3) for a device number in a tar header.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public static uint Major(ulong dev) => (uint)(((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff));
    public static uint Minor(ulong dev) => (uint)(((dev >> 12) & 0xffffff00) | (dev & 0xff));

    /// <summary>stat (following symlinks) through the C library; returns the errno (0 on success).</summary>
    public static int StatPath(string path, out Stat st)
    {
        fixed (Stat* p = &st)
            return fstatat(AT_FDCWD, path, p, 0) == 0 ? 0 : Errno;
    }

    /// <summary>lstat through the C library; returns the errno (0 on success).</summary>
    public static int LStat(string path, out Stat st)
    {
        fixed (Stat* p = &st)
            return fstatat(AT_FDCWD, path, p, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : Errno;
    }
}
