using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Network;

/// <summary>One published port: host address ("" = every address), host port, container port, tcp|udp.</summary>
public sealed record PublishedPort(string HostIp, int HostPort, int ContainerPort, string Protocol)
{
    public override string ToString() => $"{ContainerPort}/{Protocol} -> {(HostIp is "" ? "0.0.0.0" : HostIp)}:{HostPort}";
}

/// <summary>docker's <c>-p</c>: <c>[ip:][hostPort:]containerPort[/tcp|udp]</c>, ports or equal-length
/// ranges (<c>8000-8001:80-81</c>); an empty or absent host port means a free one chosen by the kernel.</summary>
public static class PortSpec
{
    /// <summary>Parsed, host port 0 where one is to be chosen.</summary>
    public static List<PublishedPort> Parse(string spec)
    {
        string Bad(string why) => throw RuntimeError.Plain($"invalid -p \"{spec}\": {why} (expected [ip:][hostPort:]containerPort[/tcp|udp])");
        var text = spec;
        var protocol = "tcp";
        if (text.LastIndexOf('/') is var slash and >= 0)
        {
            protocol = text[(slash + 1)..].ToLowerInvariant();
            text = text[..slash];
            if (protocol is not ("tcp" or "udp")) Bad($"unknown protocol \"{protocol}\"");
        }
        string ip = "", host = "", container;
        var parts = text.Split(':');
        switch (parts.Length)
        {
            case 1: container = parts[0]; break;
            case 2: host = parts[0]; container = parts[1]; break;
            case 3: ip = parts[0]; host = parts[1]; container = parts[2]; break;
            default: Bad("too many colons"); return [];
        }
        if (ip.Length > 0 && (!IPAddress.TryParse(ip, out var addr) || addr.AddressFamily != AddressFamily.InterNetwork || ip.Split('.').Length != 4))
            Bad($"invalid host address \"{ip}\" (IPv4 only)");
        if (ip.Length > 0) ip = IPAddress.Parse(ip).ToString();
        var (c0, c1) = Range(container, spec, allowZero: false) ?? (0, 0);
        if (c0 == 0) Bad("a container port is required");
        var hostRange = host.Length == 0 ? null : Range(host, spec, allowZero: false);
        if (hostRange is { } h && h.Last - h.First != c1 - c0 && h.First != h.Last)
            Bad("the host and container port ranges differ in length");
        var result = new List<PublishedPort>();
        for (int i = 0; i <= c1 - c0; i++)
        {
            int hp = hostRange is { } r ? (r.First == r.Last && c1 > c0 ? (i == 0 ? r.First : 0) : r.First + i) : 0;
            result.Add(new PublishedPort(ip, hp, c0 + i, protocol));
        }
        return result;
    }

    /// <summary>docker's <c>-P</c>: the image's EXPOSE entries ("80/tcp", "53/udp", "8000-8001/tcp") on free host ports.</summary>
    public static List<PublishedPort> Exposed(IEnumerable<string> exposed) =>
        [.. exposed.SelectMany(e => Parse(e.Contains('/') ? e : e + "/tcp"))];

    static (int First, int Last)? Range(string text, string spec, bool allowZero)
    {
        var dash = text.IndexOf('-');
        int a = Port(dash < 0 ? text : text[..dash], spec, allowZero);
        int b = dash < 0 ? a : Port(text[(dash + 1)..], spec, allowZero);
        if (b < a) throw RuntimeError.Plain($"invalid -p \"{spec}\": invalid port range {text}");
        return (a, b);
    }

    static int Port(string text, string spec, bool allowZero)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p > 65535 || (p == 0 && !allowZero))
            throw RuntimeError.Plain($"invalid -p \"{spec}\": invalid port \"{text}\" (1-65535)");
        return p;
    }

    /// <summary>Chooses free host ports for those with port 0, and checks that every host port can be
    /// bound now (nothing else listens there): a clear error before anything is created.</summary>
    public static List<PublishedPort> Reserve(IReadOnlyList<PublishedPort> ports)
    {
        var result = new List<PublishedPort>();
        foreach (var p in ports)
        {
            var type = p.Protocol == "udp" ? SocketType.Dgram : SocketType.Stream;
            var proto = p.Protocol == "udp" ? ProtocolType.Udp : ProtocolType.Tcp;
            var ip = p.HostIp is "" ? IPAddress.Any : IPAddress.Parse(p.HostIp);
            using var s = new Socket(AddressFamily.InterNetwork, type, proto);
            try { s.Bind(new IPEndPoint(ip, p.HostPort)); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw RuntimeError.Plain($"Bind for {ip}:{p.HostPort} failed: port is already allocated");
            }
            catch (SocketException e)
            {
                throw RuntimeError.Plain($"Bind for {ip}:{p.HostPort} failed: {e.Message}");
            }
            result.Add(p with { HostPort = ((IPEndPoint)s.LocalEndPoint!).Port });
        }
        var dup = result.GroupBy(p => (p.HostIp, p.HostPort, p.Protocol)).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw RuntimeError.Plain($"Bind for {(dup.Key.HostIp is "" ? "0.0.0.0" : dup.Key.HostIp)}:{dup.Key.HostPort} failed: port is already allocated (published twice)");
        return result;
    }
}
