using System.Net;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Network;

/// <summary>
/// A network's address leases: <c>&lt;root&gt;/networks/&lt;name&gt;.leases</c>, read and rewritten under an
/// exclusive flock, so parallel starts never get the same address. Addresses are handed out round-robin
/// after the last one given (as CNI's host-local does), so a just-released address is not reused at once
/// while a peer may still have it in its ARP cache.
/// </summary>
internal sealed class Leases
{
    public List<(uint Address, string ContainerId)> Entries { get; } = [];
    uint _last;

    public static T Locked<T>(string stateRoot, string network, Func<Leases, T> body)
    {
        var path = NetworkStore.LeasePath(stateRoot, network);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var _ = FileLock.Exclusive(path + ".lock");
        var leases = Read(path);
        var before = leases.Format();
        var result = body(leases);
        var after = leases.Format();
        if (after != before)
        {
            File.WriteAllText(path + ".tmp", after);
            File.Move(path + ".tmp", path, overwrite: true);
        }
        return result;
    }

    static Leases Read(string path)
    {
        var l = new Leases();
        if (!File.Exists(path)) return l;
        foreach (var line in File.ReadAllLines(path))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 2 || !IPAddress.TryParse(f[f[0] == "last" ? 1 : 0], out var ip)) continue;
            if (f[0] == "last") l._last = Ipv4.ToUint(ip);
            else l.Entries.Add((Ipv4.ToUint(ip), f[1]));
        }
        return l;
    }

    string Format() =>
        (_last != 0 ? $"last {Ipv4.ToAddress(_last)}\n" : "") + string.Concat(Entries.Select(e => $"{Ipv4.ToAddress(e.Address)} {e.ContainerId}\n"));

    /// <summary>Leases the next free address of the subnet (not the network, gateway or broadcast).</summary>
    public IPAddress Allocate(Subnet subnet, string containerId)
    {
        if (Entries.FirstOrDefault(e => e.ContainerId == containerId) is { ContainerId: not null } mine) return Ipv4.ToAddress(mine.Address);
        uint first = subnet.Network + 2, last = subnet.Broadcast - 1;
        uint count = last - first + 1;
        uint start = _last >= first && _last <= last ? _last + 1 - first : 0;
        var used = Entries.Select(e => e.Address).ToHashSet();
        for (uint i = 0; i < count; i++)
        {
            uint a = first + (start + i) % count;
            if (used.Contains(a)) continue;
            Entries.Add((a, containerId));
            _last = a;
            return Ipv4.ToAddress(a);
        }
        throw RuntimeError.Plain($"no free address left in {subnet}");
    }

    public void Release(string containerId) => Entries.RemoveAll(e => e.ContainerId == containerId);
}
