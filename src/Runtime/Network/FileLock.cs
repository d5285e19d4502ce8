using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Network;

/// <summary>An exclusive flock on a lock file of its own (created if missing), held until disposed;
/// across incrun processes. A separate file: .NET's FileStream takes a flock on the files it opens.</summary>
internal readonly struct FileLock : IDisposable
{
    readonly int _fd;

    FileLock(int fd) => _fd = fd;

    public static FileLock Exclusive(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        int fd = Libc.open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x180);
        if (fd < 0) throw new RuntimeError("open", path, Libc.Errno);
        while (Libc.flock(fd, Libc.LOCK_EX) < 0)
        {
            int errno = Libc.Errno;
            if (errno == 4) continue;
            Libc.close(fd);
            throw new RuntimeError("flock", path, errno);
        }
        return new FileLock(fd);
    }

    public void Dispose() => Libc.close(_fd);
}
