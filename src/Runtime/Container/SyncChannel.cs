using System.Buffers.Binary;
using System.Text;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Container;

/// <summary>What the runtime and the container's init say to each other, in order:
/// runtime → Spec (the container's spec, <see cref="Oci.SpecWire"/>), init → Pty (with -t, carrying
/// the pty master fd), init → Ready (root filesystem, user and pty set up), runtime → Go (cgroups and
/// network done; exec now). The OCI front end sends HookState (the state JSON for the hooks init runs)
/// before Spec and replaces Go by the exec FIFO. For a container with a user namespace and an overlay
/// root, RootMount (before Spec) carries the root filesystem as a detached mount fd. On a failure init sends Error and exits; a successful
/// execve closes init's end (close-on-exec), which the runtime reads as end-of-file. For exec, the C part's
/// intermediate process sends Pid (the host pid of the process that joined the container, as a 4-byte
/// payload), the runtime sends Spec (a spec carrying only the process), then Pty (with -t), then end-of-file.</summary>
internal enum SyncKind { Ready = 1, Go = 2, Error = 3, Pty = 4, Spec = 5, Pid = 6, HookState = 7, RootMount = 8 }

internal readonly record struct SyncMessage(SyncKind Kind, RuntimeError? Error, int Fd, byte[]? Payload = null);

/// <summary>One end of the SOCK_SEQPACKET socketpair between the runtime and init. Each message is a
/// fixed header (kind, errno, exit code) plus step, subject and detail as UTF-8, so errors keep their
/// errno across the process boundary; fds travel as SCM_RIGHTS.</summary>
internal sealed unsafe class SyncChannel(int fd) : IDisposable
{
    const int Header = 12;
    /// <summary>Below the default unix socket send buffer (~208 KiB), the limit of one datagram.</summary>
    public const int MaxMessage = 192 * 1024;
    public int Fd { get; private set; } = fd;

    /// <summary>Creates a connected pair; both ends are close-on-exec.</summary>
    public static (SyncChannel Runtime, SyncChannel Init) CreatePair()
    {
        int* sv = stackalloc int[2];
        RuntimeError.Check(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, 0, sv), "socketpair", "AF_UNIX");
        return (new SyncChannel(sv[0]), new SyncChannel(sv[1]));
    }

    public void Send(SyncKind kind, RuntimeError? error = null, int passFd = -1, byte[]? payload = null)
    {
        string? text = error is null ? null : $"{error.Step}\0{error.Subject}\0{error.Detail}";
        if (text is { Length: > 2000 }) text = text[..2000];
        int len = Header + (payload?.Length ?? (text is null ? 0 : Encoding.UTF8.GetByteCount(text)));
        if (len > MaxMessage) throw RuntimeError.Plain($"the container's spec is too large ({len} bytes, at most {MaxMessage})");
        var buf = new byte[len];
        BinaryPrimitives.WriteInt32LittleEndian(buf, (int)kind);
        BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(4), error?.Errno ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(8), error?.ExitCode ?? 0);
        if (payload is not null) payload.CopyTo(buf, Header);
        else if (text is not null) Encoding.UTF8.GetBytes(text, buf.AsSpan(Header));
        fixed (byte* p = buf)
        {
            var iov = new Libc.IoVec { Base = p, Len = (nuint)len };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLen = 1 };
            byte* control = stackalloc byte[24];
            if (passFd >= 0)
            {
                new Span<byte>(control, 24).Clear();
                *(ulong*)control = 20;               // cmsg_len = CMSG_LEN(sizeof(int))
                *(int*)(control + 8) = Libc.SOL_SOCKET;
                *(int*)(control + 12) = Libc.SCM_RIGHTS;
                *(int*)(control + 16) = passFd;
                msg.Control = control;
                msg.ControlLen = 24;                 // CMSG_SPACE(sizeof(int))
            }
            nint r;
            do { r = Libc.sendmsg(Fd, &msg, Libc.MSG_NOSIGNAL); } while (r < 0 && Libc.Errno == 4);
            if (r < 0) throw new RuntimeError("sendmsg", "sync socket", Libc.Errno);
        }
    }

    /// <summary>Returns null at end-of-file (the peer closed its end or exec'd).</summary>
    public SyncMessage? Receive()
    {
        // Peek at the datagram's size first (MSG_TRUNC returns the real length), then read it whole.
        byte peek;
        var piov = new Libc.IoVec { Base = &peek, Len = 1 };
        var pmsg = new Libc.MsgHdr { Iov = &piov, IovLen = 1 };
        nint size;
        do { size = Libc.recvmsg(Fd, &pmsg, 0x2 /* MSG_PEEK */ | 0x20 /* MSG_TRUNC */); } while (size < 0 && Libc.Errno == 4);
        if (size < 0) throw new RuntimeError("recvmsg", "sync socket", Libc.Errno);
        var buf = new byte[Math.Max(size, 1)];
        byte* control = stackalloc byte[64];
        fixed (byte* p = buf)
        {
            var iov = new Libc.IoVec { Base = p, Len = (nuint)buf.Length };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 64 };
            nint r;
            do { r = Libc.recvmsg(Fd, &msg, Libc.MSG_CMSG_CLOEXEC); } while (r < 0 && Libc.Errno == 4);
            if (r < 0) throw new RuntimeError("recvmsg", "sync socket", Libc.Errno);
            if (r == 0) return null;
            if (r < Header) throw RuntimeError.Plain("sync socket: short message");
            int fd = -1;
            if (msg.ControlLen >= 20 && *(int*)(control + 8) == Libc.SOL_SOCKET && *(int*)(control + 12) == Libc.SCM_RIGHTS)
                fd = *(int*)(control + 16);
            var kind = (SyncKind)BinaryPrimitives.ReadInt32LittleEndian(buf);
            RuntimeError? error = null;
            if (kind == SyncKind.Error)
            {
                int errno = BinaryPrimitives.ReadInt32LittleEndian(buf.AsSpan(4));
                int exit = BinaryPrimitives.ReadInt32LittleEndian(buf.AsSpan(8));
                var parts = Encoding.UTF8.GetString(buf, Header, (int)r - Header).Split('\0');
                string step = parts[0], subject = parts.Length > 1 ? parts[1] : "", detail = parts.Length > 2 ? parts[2] : "";
                error = new RuntimeError(step, subject.Length == 0 ? null : subject, errno,
                    detail.Length == 0 ? null : detail, exit == 0 ? 125 : exit);
            }
            return new SyncMessage(kind, error, fd, kind is SyncKind.Spec or SyncKind.Pid or SyncKind.HookState ? buf[Header..(int)r] : null);
        }
    }

    public void Dispose()
    {
        if (Fd >= 0) Libc.close(Fd);
        Fd = -1;
    }
}
