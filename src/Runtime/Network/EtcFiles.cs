using System.Text;
using Inception.Runtime.State;

namespace Inception.Runtime.Network;

/// <summary>
/// A container's /etc/hosts and /etc/resolv.conf (files in its directory, bind-mounted by init).
/// Name resolution on a user network is by /etc/hosts: every attach and detach rewrites the hosts file
/// of each container on that network in place (same inode, so the bind mount sees it) with one line per
/// peer: address, name, aliases, short id. The default network, as docker's, resolves no peer names.
/// </summary>
internal static class EtcFiles
{
    public const string BaseHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

    /// <summary>Used when the host has no resolver a container can reach (docker's fallback).</summary>
    public static readonly string[] FallbackNameservers = ["8.8.8.8", "8.8.4.4"];

    /// <summary>The host's resolv.conf without loopback resolvers (127.0.0.0/8, ::1: those are the
    /// host's, unreachable from the container's netns); the public fallback when none is left.</summary>
    public static string ResolvConf(string hostText)
    {
        var sb = new StringBuilder();
        int servers = 0;
        foreach (var line in hostText.Split('\n'))
        {
            var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2 && f[0] == "nameserver")
            {
                if (f[1].StartsWith("127.", StringComparison.Ordinal) || f[1] == "::1") continue;
                servers++;
            }
            if (line.Length > 0) sb.Append(line).Append('\n');
        }
        if (servers == 0)
            foreach (var s in FallbackNameservers) sb.Append("nameserver ").Append(s).Append('\n');
        return sb.ToString();
    }

    public static void WriteResolvConf(string containerDir)
    {
        var host = File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : "";
        Rewrite(Path.Combine(containerDir, "resolv.conf"), ResolvConf(host));
    }

    /// <summary>container:NAME shares the other container's files' contents.</summary>
    public static void CopyFrom(string fromDir, string toDir)
    {
        foreach (var f in new[] { "hosts", "resolv.conf" })
            if (File.Exists(Path.Combine(fromDir, f))) Rewrite(Path.Combine(toDir, f), File.ReadAllText(Path.Combine(fromDir, f)));
    }

    /// <summary>Rewrites the hosts file of every container leased on <paramref name="network"/>: its own
    /// line and (on user networks) its peers'. <paramref name="self"/> is the attaching container (its
    /// network.json is not read back), null on detach.</summary>
    public static void RefreshHosts(string stateRoot, NetworkDefinition network, Leases leases, NetworkAttachment? self, string selfId)
    {
        var members = new List<(string Id, string Dir, NetworkAttachment A)>();
        foreach (var (_, id) in leases.Entries)
        {
            var dir = Path.Combine(ContainerDirs.ContainersRoot(stateRoot), id);
            var a = id == selfId ? self : ContainerNetwork.Load(dir);
            if (a?.IPAddress is not null) members.Add((id, dir, a));
        }
        foreach (var m in members)
        {
            if (network.IsDefault && m.Id != selfId) continue; // nothing about peers changes on the default network
            var sb = new StringBuilder(BaseHosts);
            sb.Append(Line(m.Id, m.A, self: true));
            if (!network.IsDefault)
                foreach (var peer in members.Where(p => p.Id != m.Id)) sb.Append(Line(peer.Id, peer.A, self: false));
            var path = Path.Combine(m.Dir, "hosts");
            if (File.Exists(path) || m.Id == selfId) Rewrite(path, sb.ToString());
        }
    }

    static string Line(string id, NetworkAttachment a, bool self)
    {
        var names = new List<string>();
        if (self && a.Hostname is { } h) names.Add(h);
        if (a.Name is { Length: > 0 } n && !names.Contains(n)) names.Add(n);
        names.AddRange(a.Aliases.Where(x => !names.Contains(x)));
        if (!names.Contains(id[..12])) names.Add(id[..12]);
        return $"{a.IPAddress}\t{string.Join(' ', names)}\n";
    }

    /// <summary>Truncate and write: the same inode, which a bind mount in a running container shows.</summary>
    static void Rewrite(string path, string text) => File.WriteAllText(path, text);
}
