using System.Text;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.OciRuntime;

/// <summary>runc's --console-socket protocol: connect to the engine's UNIX socket and send the pty
/// master in one message (SCM_RIGHTS), its data the pty's name. conmon and the containerd shim then
/// own the terminal.</summary>
public static unsafe class ConsoleSocket
{
    public static void Send(string path, int master)
    {
        if (master < 0) throw RuntimeError.Plain("console socket: init made no pty", 1);
        int sock = Libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (sock < 0) throw new RuntimeError("socket", "AF_UNIX", Libc.Errno, exitCode: 1);
        try
        {
            var name = Encoding.UTF8.GetBytes(path);
            if (name.Length > 107) throw RuntimeError.Plain($"--console-socket {path}: path longer than 107 bytes", 1);
            byte* addr = stackalloc byte[110];
            new Span<byte>(addr, 110).Clear();
            *(ushort*)addr = (ushort)Libc.AF_UNIX;
            name.CopyTo(new Span<byte>(addr + 2, 108));
            if (Libc.connect(sock, addr, (uint)(2 + name.Length + 1)) < 0) throw new RuntimeError("connect", path, Libc.Errno, exitCode: 1);

            var data = "/dev/ptmx"u8.ToArray();
            fixed (byte* p = data)
            {
                var iov = new Libc.IoVec { Base = p, Len = (nuint)data.Length };
                byte* control = stackalloc byte[24];
                new Span<byte>(control, 24).Clear();
                *(ulong*)control = 20;               // cmsg_len = CMSG_LEN(sizeof(int))
                *(int*)(control + 8) = Libc.SOL_SOCKET;
                *(int*)(control + 12) = Libc.SCM_RIGHTS;
                *(int*)(control + 16) = master;
                var msg = new Libc.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 24 };
                nint r;
                do { r = Libc.sendmsg(sock, &msg, Libc.MSG_NOSIGNAL); } while (r < 0 && Libc.Errno == 4);
                if (r < 0) throw new RuntimeError("sendmsg", path, Libc.Errno, exitCode: 1);
            }
        }
        finally { Libc.close(sock); }
    }
}
