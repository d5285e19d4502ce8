using System.Net;
using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.State;

namespace Inception.Runtime.Network;

/// <summary>What a container asks of the network layer (from docker's flags).</summary>
public sealed record NetworkRequest
{
    /// <summary>bridge (default), none, host, container:&lt;name|id&gt;, or a user network's name.</summary>
    public string Mode { get; init; } = NetworkStore.DefaultNetwork;
    /// <summary>-p specs as typed.</summary>
    public IReadOnlyList<string> Publish { get; init; } = [];
    /// <summary>-P: publish <see cref="Exposed"/> on free host ports.</summary>
    public bool PublishAll { get; init; }
    /// <summary>The image's EXPOSE entries ("80/tcp").</summary>
    public IReadOnlyList<string> Exposed { get; init; } = [];
    public IReadOnlyList<string> Aliases { get; init; } = [];
    /// <summary>The container's host name (written to its /etc/hosts with its address).</summary>
    public string? Hostname { get; init; }

    public bool IsBridged => Mode is not ("none" or "host") && !Mode.StartsWith("container:", StringComparison.Ordinal);

    /// <summary>Checks what needs no state (syntax, combinations); throws a one-line error.</summary>
    public void Validate()
    {
        if (Mode.Length == 0) throw RuntimeError.Plain("invalid --network \"\": expected bridge, none, host, container:<name|id> or a network name");
        if (Mode.StartsWith("container:", StringComparison.Ordinal) && Mode.Length == "container:".Length)
            throw RuntimeError.Plain("invalid --network container: a container name or id is required (container:<name|id>)");
        foreach (var p in Publish) PortSpec.Parse(p);
        if (!IsBridged && Mode != "host" && (Publish.Count > 0 || PublishAll))
            throw RuntimeError.Plain($"conflicting options: port publishing and the network mode {Mode}");
        if (Aliases.Count > 0 && (!IsBridged || Mode == NetworkStore.DefaultNetwork))
            throw RuntimeError.Plain("network-scoped aliases are supported only for containers on user-defined networks");
    }
}

/// <summary>
/// The network layer's whole interface for a container: <see cref="Attach"/> once its init exists (its
/// netns is /proc/PID/ns/net) and before the command runs; <see cref="Detach"/> when it is stopped,
/// removed, or found crashed. Detach needs only the network.json that Attach writes first, so it is
/// idempotent and undoes a half-done Attach as well.
/// </summary>
public static class ContainerNetwork
{
    public const string FileName = "network.json";
    public const string VethPrefix = "incv";
    const string Eth0 = "eth0";

    /// <summary>Connects the container whose init is <paramref name="initPid"/> as requested, writes its
    /// /etc/hosts and /etc/resolv.conf (files in its directory) and persists the result.</summary>
    public static NetworkAttachment Attach(string stateRoot, string containerId, string containerName, int initPid, NetworkRequest request)
    {
        request.Validate();
        var dir = Path.Combine(ContainerDirs.ContainersRoot(stateRoot), containerId);
        var hostname = request.Hostname ?? containerId[..12];
        if (request.Mode is "none" or "host")
        {
            var plain = new NetworkAttachment { Mode = request.Mode, Name = containerName, Hostname = hostname, Pid = initPid };
            if (request.Mode == "none") EtcFiles.WriteResolvConf(dir);
            Save(dir, plain);
            return plain;
        }
        if (request.Mode.StartsWith("container:", StringComparison.Ordinal))
        {
            var target = JoinTarget(stateRoot, request.Mode["container:".Length..]);
            var joined = new NetworkAttachment { Mode = $"container:{target.Id}", Name = containerName, Hostname = hostname, Pid = initPid };
            EtcFiles.CopyFrom(target.Dir, dir);
            Save(dir, joined);
            return joined;
        }

        var network = NetworkStore.Get(stateRoot, request.Mode);
        var wanted = request.Publish.SelectMany(PortSpec.Parse).ToList();
        if (request.PublishAll) wanted.AddRange(PortSpec.Exposed(request.Exposed).Where(e => !wanted.Any(w => w.ContainerPort == e.ContainerPort && w.Protocol == e.Protocol)));
        var ports = PortSpec.Reserve(wanted);
        var subnet = network.ParsedSubnet;
        var a = new NetworkAttachment
        {
            Mode = network.Name, Network = network.Name, Bridge = network.Bridge, Subnet = network.Subnet, PrefixLength = subnet.Prefix,
            Gateway = network.Gateway, HostVeth = VethPrefix + containerId[..11], Name = containerName, Hostname = hostname,
            Aliases = [.. request.Aliases], Ports = ports, Pid = initPid,
        };
        Save(dir, a); // first: a crash from here on is undone by Detach from this file
        try
        {
            a = Leases.Locked(stateRoot, network.Name, leases =>
            {
                var ip = leases.Allocate(subnet, containerId);
                var withIp = a with { IPAddress = ip.ToString() };
                Save(dir, withIp);
                using var nl = Netlink.Open();
                if (Links.EnsureBridge(nl, network.Bridge, subnet.Gateway, subnet.Prefix) || !leases.Entries.Any(e => e.ContainerId != containerId))
                {
                    Sysctl($"/proc/sys/net/ipv4/conf/{network.Bridge}/route_localnet", "1");
                    Sysctl("/proc/sys/net/ipv4/ip_forward", "1");
                    Nftables.AddNetwork(network.Bridge, subnet);
                }
                int bridgeIndex = Links.Index(nl, network.Bridge) ?? throw new RuntimeError("find bridge", network.Bridge, 19);
                var nsPath = $"/proc/{initPid}/ns/net";
                int nsFd = Libc.open(nsPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
                if (nsFd < 0) throw new RuntimeError("open", nsPath, Libc.Errno);
                try { Links.CreateVeth(nl, withIp.HostVeth!, bridgeIndex, nsFd, Eth0); }
                finally { Libc.close(nsFd); }
                using (var inside = Netlink.OpenIn(nsPath))
                {
                    int eth0 = Links.Index(inside, Eth0) ?? throw new RuntimeError("find link", $"{Eth0} in {nsPath}", 19);
                    Links.AddAddress(inside, eth0, ip, subnet.Prefix, Eth0);
                    Links.SetUp(inside, eth0, Eth0);
                    Links.AddDefaultRoute(inside, eth0, subnet.Gateway);
                }
                EtcFiles.WriteResolvConf(dir);
                EtcFiles.RefreshHosts(stateRoot, network, leases, withIp, containerId);
                return withIp;
            });
            Nftables.Publish(a.Ports, a.IPAddress!);
            return a;
        }
        catch
        {
            Detach(stateRoot, containerId);
            throw;
        }
    }

    /// <summary>Undoes <see cref="Attach"/> from the container's network.json: its published ports, veth,
    /// lease and hosts entries on its peers; the bridge and nft elements of the network go with its last
    /// container. Idempotent; a container without network.json has nothing to undo.</summary>
    public static void Detach(string stateRoot, string containerId) =>
        DetachDir(stateRoot, Path.Combine(ContainerDirs.ContainersRoot(stateRoot), containerId), containerId);

    internal static void DetachDir(string stateRoot, string dir, string containerId)
    {
        var path = Path.Combine(dir, FileName);
        var a = Load(dir);
        if (a is null) return;
        if (a.Network is { } name && a.Bridge is { } bridge && a.Subnet is { } subnetText)
        {
            if (a.IPAddress is { } ip && a.Ports.Count > 0) Nftables.Unpublish(a.Ports, ip);
            var subnet = Subnet.Parse(subnetText);
            Leases.Locked(stateRoot, name, leases =>
            {
                using var nl = Netlink.Open();
                if (a.HostVeth is { } veth) Links.Delete(nl, veth);
                leases.Release(containerId);
                if (NetworkStore.Find(stateRoot, name) is { } network)
                    EtcFiles.RefreshHosts(stateRoot, network, leases, null, containerId);
                if (leases.Entries.Count == 0)
                {
                    Links.Delete(nl, bridge);
                    Nftables.RemoveNetwork(bridge, subnet);
                }
                return 0;
            });
        }
        File.Delete(path);
    }

    /// <summary>The containers attached to a network now, with their attachments.</summary>
    public static List<(string Id, NetworkAttachment Attachment)> Members(string stateRoot, string network) =>
        Leases.Locked(stateRoot, network, l => l.Entries
            .Select(e => (e.ContainerId, Load(Path.Combine(ContainerDirs.ContainersRoot(stateRoot), e.ContainerId))))
            .Where(x => x.Item2 is not null).Select(x => (x.ContainerId, x.Item2!)).ToList());

    /// <summary>The attachment of a container (by directory), or null.</summary>
    public static NetworkAttachment? Load(string containerDir)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(containerDir, FileName)), NetworkJson.Default.NetworkAttachment); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException) { return null; }
    }

    static void Save(string dir, NetworkAttachment a)
    {
        var path = Path.Combine(dir, FileName);
        File.WriteAllBytes(path + ".tmp", JsonSerializer.SerializeToUtf8Bytes(a, NetworkJson.Default.NetworkAttachment));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    static void Sysctl(string path, string value)
    {
        try
        {
            if (File.ReadAllText(path).Trim() != value) File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw RuntimeError.Plain($"write {path}: {RuntimeError.IoText(e)}");
        }
    }

    /// <summary>--network container:&lt;name|id&gt;: a running container (its init's netns is joined).</summary>
    internal static (string Id, string Dir, int Pid) JoinTarget(string stateRoot, string key)
    {
        var target = ContainerStore.Find(stateRoot, key);
        if (!target.Supervised || !target.State.IsActive) throw RuntimeError.Plain($"cannot join the network of container {key}: it is not running");
        var dir = target.Dir;
        var a = Load(dir) ?? throw RuntimeError.Plain($"container {key} has no network yet (is it still starting?)");
        if (a.Mode.StartsWith("container:", StringComparison.Ordinal)) return JoinTarget(stateRoot, a.Mode["container:".Length..]);
        if (a.Mode == "host") throw RuntimeError.Plain($"cannot join the network of container {key}: it uses the host's network");
        return (target.Id, dir, a.Pid);
    }

    /// <summary>The netns path a <c>--network container:NAME</c> container joins.</summary>
    public static string JoinedNetnsPath(string stateRoot, string mode) =>
        $"/proc/{JoinTarget(stateRoot, mode["container:".Length..]).Pid}/ns/net";
}
