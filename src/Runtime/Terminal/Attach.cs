using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Inception.Runtime.Native;

namespace Inception.Runtime.Terminal;

/// <summary>
/// The attach protocol between a detached container's supervisor and <c>incrun attach</c> / <c>start -a</c>
/// clients, over a UNIX socket in the container's directory. Frames are [kind:1][length:4, big endian][data]:
/// supervisor → client: 1 stdout, 2 stderr; client → supervisor: 0 stdin, 4 resize (rows:2, cols:2).
/// </summary>
internal static class AttachFrame
{
    public const byte Stdin = 0, Stdout = 1, Stderr = 2, Resize = 4;
    public const string SocketName = "attach.sock";

    public static byte[] Make(byte kind, ReadOnlySpan<byte> data)
    {
        var frame = new byte[5 + data.Length];
        frame[0] = kind;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), data.Length);
        data.CopyTo(frame.AsSpan(5));
        return frame;
    }

    /// <summary>Reads one frame; null at end of stream.</summary>
    public static (byte Kind, byte[] Data)? Read(Socket s)
    {
        var header = new byte[5];
        if (!ReadExactly(s, header)) return null;
        int length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1));
        if (length is < 0 or > 1 << 20) return null;
        var data = new byte[length];
        return ReadExactly(s, data) ? (header[0], data) : null;
    }

    static bool ReadExactly(Socket s, byte[] buffer)
    {
        for (int off = 0; off < buffer.Length;)
        {
            int n;
            try { n = s.Receive(buffer, off, buffer.Length - off, SocketFlags.None); }
            catch (SocketException) { return false; }
            catch (ObjectDisposedException) { return false; }
            if (n <= 0) return false;
            off += n;
        }
        return true;
    }

    /// <summary>The socket's path, reached through an fd of the container's directory so that a long state
    /// root never exceeds the 108 bytes a UNIX socket path may have.</summary>
    public static UnixDomainSocketEndPoint EndPoint(int dirFd) => new($"/proc/self/fd/{dirFd}/{SocketName}");
}

/// <summary>The supervisor's side: accepts clients, copies the container's output to each, and their
/// input to the container's stdin (the pipe kept open with -i, or the pty master with -t).</summary>
internal sealed unsafe class AttachServer : IDisposable
{
    readonly Socket _listener;
    readonly string _path;
    readonly List<Socket> _clients = [];
    readonly Lock _lock = new();
    readonly int _stdin;
    readonly int _pty;

    public AttachServer(string dir, int stdin, int ptyMaster)
    {
        _stdin = stdin;
        _pty = ptyMaster;
        _path = Path.Combine(dir, AttachFrame.SocketName);
        int dirFd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        try
        {
            File.Delete(Path.Combine(dir, AttachFrame.SocketName));
            _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listener.Bind(AttachFrame.EndPoint(dirFd));
            _listener.Listen(16);
        }
        finally { Libc.close(dirFd); }
        new Thread(Accept) { IsBackground = true, Name = "attach-accept" }.Start();
    }

    void Accept()
    {
        while (true)
        {
            Socket client;
            try { client = _listener.Accept(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            lock (_lock) _clients.Add(client);
            new Thread(() => Input(client)) { IsBackground = true, Name = "attach-in" }.Start();
        }
    }

    void Input(Socket client)
    {
        while (AttachFrame.Read(client) is { } frame)
        {
            if (frame.Kind == AttachFrame.Stdin)
            {
                int target = _pty >= 0 ? _pty : _stdin;
                if (target < 0) continue;
                fixed (byte* p = frame.Data)
                    for (int off = 0; off < frame.Data.Length;)
                    {
                        nint w = Libc.write(target, p + off, (nuint)(frame.Data.Length - off));
                        if (w < 0 && Libc.Errno == 4) continue;
                        if (w <= 0) break;
                        off += (int)w;
                    }
            }
            else if (frame.Kind == AttachFrame.Resize && frame.Data.Length == 4 && _pty >= 0)
            {
                var ws = new Libc.WinSize
                {
                    Rows = BinaryPrimitives.ReadUInt16BigEndian(frame.Data),
                    Cols = BinaryPrimitives.ReadUInt16BigEndian(frame.Data.AsSpan(2)),
                };
                Libc.ioctl(_pty, Libc.TIOCSWINSZ, &ws);
            }
        }
        lock (_lock) _clients.Remove(client);
        client.Dispose();
    }

    /// <summary>Sends output to every attached client (a client that cannot keep up is dropped).</summary>
    public void Broadcast(byte stream, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_clients.Count == 0) return;
            var frame = AttachFrame.Make(stream, data);
            foreach (var c in _clients.ToArray())
            {
                try { c.Send(frame); }
                catch (SocketException) { _clients.Remove(c); c.Dispose(); }
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        try { File.Delete(_path); } catch (IOException) { }
        lock (_lock)
        {
            foreach (var c in _clients)
            {
                try { c.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
                c.Dispose();
            }
            _clients.Clear();
        }
    }
}

/// <summary>The client's side (<c>incrun attach</c>): the container's output to fds 1 and 2, fd 0 to its
/// stdin, the terminal in raw mode with -t. Ctrl-P Ctrl-Q detaches, as docker's default detach keys.</summary>
internal sealed unsafe class AttachClient
{
    public enum End { ContainerExited, Detached }

    public static End Run(string dir, bool tty, bool stdin)
    {
        int dirFd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0) throw new Errors.RuntimeError("open", dir, Libc.Errno);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { socket.Connect(AttachFrame.EndPoint(dirFd)); }
        catch (SocketException e)
        {
            throw Errors.RuntimeError.Plain($"attach: cannot connect to the container's supervisor ({e.Message}); is it running?", 1);
        }
        finally { Libc.close(dirFd); }

        Libc.Termios saved = default;
        bool restore = false;
        if (tty && Libc.isatty(0) == 1)
        {
            Libc.Termios t;
            if (Libc.tcgetattr(0, &t) == 0)
            {
                saved = t;
                Libc.cfmakeraw(&t);
                restore = Libc.tcsetattr(0, Libc.TCSADRAIN, &t) == 0;
            }
            SendSize(socket);
        }
        var detached = new ManualResetEventSlim();
        if (stdin)
            new Thread(() =>
            {
                var buf = new byte[4096];
                byte last = 0;
                fixed (byte* p = buf)
                    while (true)
                    {
                        nint n = Libc.read(0, p, (nuint)buf.Length);
                        if (n < 0 && Libc.Errno == 4) continue;
                        if (n <= 0) return;
                        var chunk = buf.AsSpan(0, (int)n);
                        if (tty)
                        {
                            int q = chunk.IndexOf((byte)0x11);
                            if ((q > 0 && chunk[q - 1] == 0x10) || (q == 0 && last == 0x10)) { detached.Set(); socket.Shutdown(SocketShutdown.Both); return; }
                            last = chunk[^1];
                        }
                        try { socket.Send(AttachFrame.Make(AttachFrame.Stdin, chunk)); }
                        catch (SocketException) { return; }
                    }
            }) { IsBackground = true, Name = "attach-stdin" }.Start();
        try
        {
            while (AttachFrame.Read(socket) is { } frame)
            {
                int fd = frame.Kind == AttachFrame.Stderr ? 2 : 1;
                fixed (byte* p = frame.Data)
                    for (int off = 0; off < frame.Data.Length;)
                    {
                        nint w = Libc.write(fd, p + off, (nuint)(frame.Data.Length - off));
                        if (w < 0 && Libc.Errno == 4) continue;
                        if (w <= 0) break;
                        off += (int)w;
                    }
            }
        }
        finally
        {
            if (restore) Libc.tcsetattr(0, Libc.TCSADRAIN, &saved);
        }
        return detached.IsSet ? End.Detached : End.ContainerExited;
    }

    static void SendSize(Socket socket)
    {
        if (PtySession.HostSize() is not { } size) return;
        var data = new byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(data, size.Rows);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2), size.Cols);
        socket.Send(AttachFrame.Make(AttachFrame.Resize, data));
    }
}
