using System.Globalization;
using System.Net;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Network;

/// <summary>An IPv4 subnet (address/prefix) and the little arithmetic IPAM needs.</summary>
public readonly record struct Subnet(uint Network, int Prefix)
{
    public uint Mask => Prefix == 0 ? 0 : uint.MaxValue << (32 - Prefix);
    public uint Broadcast => Network | ~Mask;
    public IPAddress Gateway => Ipv4.ToAddress(Network + 1);
    public bool Contains(uint a) => (a & Mask) == Network;
    public bool Overlaps(Subnet o) => Contains(o.Network) || o.Contains(Network);
    public override string ToString() => $"{Ipv4.ToAddress(Network)}/{Prefix}";

    /// <summary>Parses <c>a.b.c.d/n</c> (host bits must be zero, as docker requires); n from 8 to 30.</summary>
    public static Subnet Parse(string text)
    {
        var slash = text.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(text[..slash], out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > 32)
            throw RuntimeError.Plain($"invalid subnet {text}: expected an IPv4 CIDR such as 10.89.1.0/24");
        if (prefix is < 8 or > 30) throw RuntimeError.Plain($"invalid subnet {text}: the prefix length must be between 8 and 30");
        var s = new Subnet(Ipv4.ToUint(ip), prefix);
        if ((s.Network & ~s.Mask) != 0) throw RuntimeError.Plain($"invalid subnet {text}: host bits are set (did you mean {Ipv4.ToAddress(s.Network & s.Mask)}/{prefix}?)");
        return s;
    }
}

internal static class Ipv4
{
    public static uint ToUint(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    public static IPAddress ToAddress(uint a) => new([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]);

    public static IPAddress Broadcast(IPAddress a, int prefix) => ToAddress(new Subnet(ToUint(a) & new Subnet(0, prefix).Mask, prefix).Broadcast);

    /// <summary>The host's IPv4 routes (/proc/net/route), as subnets, with the device of each.</summary>
    public static List<(Subnet Subnet, string Device)> HostRoutes()
    {
        var result = new List<(Subnet, string)>();
        try
        {
            foreach (var line in File.ReadLines("/proc/net/route").Skip(1))
            {
                var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (f.Length < 8) continue;
                uint dst = uint.Parse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                uint mask = uint.Parse(f[7], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (mask == 0) continue; // the default route overlaps everything and says nothing
                // /proc/net/route prints them in host (little-endian) byte order
                dst = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(dst);
                mask = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(mask);
                result.Add((new Subnet(dst, System.Numerics.BitOperations.PopCount(mask)), f[0]));
            }
        }
        catch (IOException) { }
        return result;
    }
}
