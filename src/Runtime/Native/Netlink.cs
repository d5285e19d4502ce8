using System.Buffers.Binary;
using System.Text;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Native;

/// <summary>
/// A NETLINK_ROUTE socket (rtnetlink, man 7 rtnetlink): one request at a time, each acknowledged. A
/// socket stays bound to the network namespace it was opened in, so a socket opened on a thread that
/// entered a container's netns configures that netns from anywhere (<see cref="OpenIn"/>).
/// </summary>
internal sealed unsafe class Netlink : IDisposable
{
    public const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_NEWROUTE = 24;
    public const ushort NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;
    const ushort NLMSG_ERROR = 2;
    public const ushort IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MASTER = 10, IFLA_LINKINFO = 18, IFLA_NET_NS_FD = 28,
        IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, VETH_INFO_PEER = 1,
        IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_BROADCAST = 4, RTA_DST = 1, RTA_GATEWAY = 5, RTA_OIF = 4;
    public const uint IFF_UP = 1;
    const int CLONE_NEWNET = 0x40000000;

    int _fd;
    uint _seq;

    Netlink(int fd) => _fd = fd;

    /// <summary>A socket in this thread's network namespace.</summary>
    public static Netlink Open()
    {
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Libc.NETLINK_ROUTE);
        if (fd < 0) throw new RuntimeError("socket", "AF_NETLINK", Libc.Errno);
        return new Netlink(fd);
    }

    /// <summary>A socket in the network namespace <paramref name="netnsPath"/> (e.g. /proc/PID/ns/net):
    /// opened on a short-lived thread of its own that enters the namespace, so no other thread of this
    /// process ever changes namespace.</summary>
    public static Netlink OpenIn(string netnsPath)
    {
        int nsFd = Libc.open(netnsPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (nsFd < 0) throw new RuntimeError("open", netnsPath, Libc.Errno);
        Netlink? result = null;
        RuntimeError? error = null;
        try
        {
            var t = new Thread(() =>
            {
                if (Libc.setns(nsFd, CLONE_NEWNET) < 0) { error = new RuntimeError("setns", netnsPath, Libc.Errno); return; }
                try { result = Open(); }
                catch (RuntimeError e) { error = e; }
            }, 256 * 1024) { IsBackground = true, Name = "incrun-netns" };
            t.Start();
            t.Join();
        }
        finally { Libc.close(nsFd); }
        return result ?? throw error!;
    }

    /// <summary>Sends one request and waits for its acknowledgement; returns 0 or the negative errno.</summary>
    public int Request(MessageBuilder m)
    {
        var msg = m.Finish(++_seq);
        fixed (byte* p = msg)
            if (Libc.write(_fd, p, (nuint)msg.Length) != msg.Length) throw new RuntimeError("netlink send", null, Libc.Errno);
        return ReadReply(null);
    }

    /// <summary>Sends a get request for one object and returns its reply payload (after the header).</summary>
    public byte[]? Get(MessageBuilder m)
    {
        var msg = m.Finish(++_seq);
        fixed (byte* p = msg)
            if (Libc.write(_fd, p, (nuint)msg.Length) != msg.Length) throw new RuntimeError("netlink send", null, Libc.Errno);
        byte[]? payload = null;
        int r = ReadReply(b => payload = b);
        return r == 0 ? payload : null;
    }

    int ReadReply(Action<byte[]>? onData)
    {
        var buf = new byte[16384];
        while (true)
        {
            nint n;
            fixed (byte* p = buf)
                do { n = Libc.read(_fd, p, (nuint)buf.Length); } while (n < 0 && Libc.Errno == 4);
            if (n < 0) throw new RuntimeError("netlink receive", null, Libc.Errno);
            int off = 0;
            while (off + 16 <= n)
            {
                int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(off));
                ushort type = BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(off + 4));
                uint seq = BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(off + 8));
                if (len < 16 || off + len > n) throw RuntimeError.Plain("netlink: truncated reply");
                if (seq == _seq)
                {
                    if (type == NLMSG_ERROR) return BinaryPrimitives.ReadInt32LittleEndian(buf.AsSpan(off + 16));
                    onData?.Invoke(buf.AsSpan(off + 16, len - 16).ToArray());
                    if (onData is not null && (BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(off + 6)) & 2 /* NLM_F_MULTI */) == 0)
                        return 0;
                }
                off += (len + 3) & ~3;
            }
        }
    }

    public void Dispose()
    {
        if (_fd >= 0) Libc.close(_fd);
        _fd = -1;
    }

    /// <summary>Builds one netlink message: header, fixed family header, attributes (nested as needed).</summary>
    public sealed class MessageBuilder
    {
        readonly List<byte> _b = new(256);
        readonly Stack<int> _nests = new();

        public MessageBuilder(ushort type, ushort flags)
        {
            _b.AddRange(new byte[16]);
            BinaryPrimitives.WriteUInt16LittleEndian(Span(4, 2), type);
            BinaryPrimitives.WriteUInt16LittleEndian(Span(6, 2), (ushort)(flags | NLM_F_REQUEST));
        }

        Span<byte> Span(int offset, int length) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_b).Slice(offset, length);

        /// <summary>struct ifinfomsg.</summary>
        public MessageBuilder IfInfo(int index = 0, uint flags = 0, uint change = 0)
        {
            var h = new byte[16];
            h[0] = 0; // AF_UNSPEC
            BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(4), index);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), flags);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12), change);
            _b.AddRange(h);
            return this;
        }

        /// <summary>struct ifaddrmsg (AF_INET).</summary>
        public MessageBuilder IfAddr(int index, byte prefixLength)
        {
            var h = new byte[8];
            h[0] = Libc.AF_INET;
            h[1] = prefixLength;
            BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(4), index);
            _b.AddRange(h);
            return this;
        }

        /// <summary>struct rtmsg for a unicast IPv4 route in the main table.</summary>
        public MessageBuilder Route(byte dstLength)
        {
            _b.AddRange([Libc.AF_INET, dstLength, 0, 0, 254 /* RT_TABLE_MAIN */, 3 /* RTPROT_BOOT */, 0 /* RT_SCOPE_UNIVERSE */, 1 /* RTN_UNICAST */, 0, 0, 0, 0]);
            return this;
        }

        public MessageBuilder Attr(ushort type, ReadOnlySpan<byte> value)
        {
            int len = 4 + value.Length;
            _b.Add((byte)len); _b.Add((byte)(len >> 8));
            _b.Add((byte)type); _b.Add((byte)(type >> 8));
            foreach (var v in value) _b.Add(v);
            while (_b.Count % 4 != 0) _b.Add(0);
            return this;
        }

        public MessageBuilder Attr(ushort type, string value) => Attr(type, Encoding.UTF8.GetBytes(value + "\0"));
        public MessageBuilder Attr(ushort type, int value) => Attr(type, BitConverter.GetBytes(value));

        public MessageBuilder Begin(ushort type)
        {
            _nests.Push(_b.Count);
            return Attr(type, []);
        }

        public MessageBuilder End()
        {
            int start = _nests.Pop();
            BinaryPrimitives.WriteUInt16LittleEndian(Span(start, 2), (ushort)(_b.Count - start));
            return this;
        }

        public byte[] Finish(uint seq)
        {
            var msg = _b.ToArray();
            BinaryPrimitives.WriteUInt32LittleEndian(msg, (uint)msg.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(msg.AsSpan(8), seq);
            return msg;
        }
    }
}
