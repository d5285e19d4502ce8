using Inception.Runtime.Native;

namespace Inception.Runtime.Terminal;

/// <summary>
/// The runtime's side of <c>-t</c>: puts the host terminal in raw mode (restored on dispose), copies
/// stdin → pty master (with <c>-i</c>) and master → stdout, and keeps the container's window size in
/// step with the host's. Ctrl-C travels as a byte; the container's pty turns it into SIGINT.
/// </summary>
public sealed unsafe class PtySession : IDisposable
{
    /// <summary>Receives a copy of everything the container writes to its terminal (for its log).</summary>
    public delegate void OutputSink(ReadOnlySpan<byte> data);

    readonly int _master;
    readonly Thread _output;
    Libc.Termios _saved;
    readonly bool _restore;

    PtySession(int master, bool interactive, OutputSink? tee)
    {
        _master = master;
        if (Libc.isatty(0) == 1)
        {
            Libc.Termios t;
            if (Libc.tcgetattr(0, &t) == 0)
            {
                _saved = t;
                Libc.cfmakeraw(&t);
                t.Oflag |= 0x1 | 0x4; // keep OPOST|ONLCR so the runtime's own messages stay readable
                _restore = Libc.tcsetattr(0, Libc.TCSADRAIN, &t) == 0;
            }
        }
        Resize();
        _output = new Thread(() => Copy(_master, 1, tee)) { IsBackground = true, Name = "pty-out" };
        _output.Start();
        if (interactive)
            new Thread(() => Copy(0, _master, null)) { IsBackground = true, Name = "pty-in" }.Start();
    }

    public static PtySession Begin(int master, bool interactive, OutputSink? tee = null) => new(master, interactive, tee);

    /// <summary>The host terminal's size, if stdin or stdout is a terminal.</summary>
    public static (ushort Rows, ushort Cols)? HostSize()
    {
        Libc.WinSize ws;
        for (int fd = 0; fd < 3; fd++)
            if (Libc.ioctl(fd, Libc.TIOCGWINSZ, &ws) == 0 && ws.Rows > 0)
                return (ws.Rows, ws.Cols);
        return null;
    }

    /// <summary>Copies the host's window size to the container's pty (on start and on SIGWINCH).</summary>
    public void Resize()
    {
        if (HostSize() is not { } s) return;
        var ws = new Libc.WinSize { Rows = s.Rows, Cols = s.Cols };
        Libc.ioctl(_master, Libc.TIOCSWINSZ, &ws);
    }

    /// <summary>After the container exits: let the last output through (the master reads EIO once
    /// every slave fd is closed).</summary>
    public void Drain() => _output.Join(TimeSpan.FromSeconds(2));

    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/> (-1: nowhere) until end of file or
    /// an error, handing each chunk to <paramref name="tee"/> too.</summary>
    public static void Copy(int from, int to, OutputSink? tee)
    {
        var buf = new byte[16384];
        fixed (byte* p = buf)
        {
            while (true)
            {
                nint n = Libc.read(from, p, (nuint)buf.Length);
                if (n < 0 && Libc.Errno == 4) continue;
                if (n <= 0) return;
                tee?.Invoke(new ReadOnlySpan<byte>(p, (int)n));
                for (nint off = 0; to >= 0 && off < n;)
                {
                    nint w = Libc.write(to, p + off, (nuint)(n - off));
                    if (w < 0 && Libc.Errno == 4) continue;
                    if (w <= 0) return;
                    off += w;
                }
            }
        }
    }

    public void Dispose()
    {
        if (!_restore) return;
        var t = _saved;
        Libc.tcsetattr(0, Libc.TCSADRAIN, &t);
    }
}
