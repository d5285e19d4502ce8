using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Init;

/// <summary>The container's console: a pty from the container's own devpts. The master goes to the
/// runtime over the sync socket; the slave becomes init's controlling terminal and stdio.</summary>
internal static unsafe class Terminal
{
    public static void SetupConsole(SyncChannel sync, Box? size, uint owner = 0)
    {
        int master = Libc.open("/dev/ptmx", Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (master < 0) throw new RuntimeError("open", "/dev/ptmx", Libc.Errno);
        int unlock = 0, n = 0;
        if (Libc.ioctl(master, Libc.TIOCSPTLCK, &unlock) < 0) throw new RuntimeError("unlockpt", "/dev/ptmx", Libc.Errno);
        if (Libc.ioctl(master, Libc.TIOCGPTN, &n) < 0) throw new RuntimeError("ptsname", "/dev/ptmx", Libc.Errno);
        var slavePath = $"/dev/pts/{n}";
        int slave = Libc.open(slavePath, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (slave < 0) throw new RuntimeError("open", slavePath, Libc.Errno);
        if (size is { Height: > 0, Width: > 0 })
        {
            var ws = new Libc.WinSize { Rows = (ushort)size.Height, Cols = (ushort)size.Width };
            Libc.ioctl(slave, Libc.TIOCSWINSZ, &ws);
        }
        // The process's user owns its terminal (so it can reopen /dev/pts/N, as with a login).
        if (owner != 0) Libc.fchown(slave, owner, uint.MaxValue);
        sync.Send(SyncKind.Pty, passFd: master);
        Libc.close(master);

        if (Libc.setsid() < 0) throw new RuntimeError("setsid", null, Libc.Errno);
        if (Libc.ioctl(slave, Libc.TIOCSCTTY, null) < 0) throw new RuntimeError("ioctl(TIOCSCTTY)", slavePath, Libc.Errno);
        for (int fd = 0; fd < 3; fd++)
            if (Libc.dup3(slave, fd, 0) < 0) throw new RuntimeError("dup3", slavePath, Libc.Errno);
        Libc.close(slave);
    }
}
