using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Network;

/// <summary>A bridge network: its own host bridge and IPv4 subnet (gateway = first address, on the bridge).</summary>
public sealed record NetworkDefinition
{
    public required string Name { get; init; }
    public required string Id { get; init; }
    public required string Bridge { get; init; }
    public required string Subnet { get; init; }
    public required string Gateway { get; init; }
    public DateTimeOffset Created { get; init; }
    [JsonIgnore] public Subnet ParsedSubnet => Network.Subnet.Parse(Subnet);
    /// <summary>The default network (docker's <c>bridge</c>): no name resolution between its containers.</summary>
    [JsonIgnore] public bool IsDefault => Name == NetworkStore.DefaultNetwork;
}

/// <summary>What a container got from <see cref="ContainerNetwork.Attach"/>; persisted as network.json
/// in the container's directory so that <see cref="ContainerNetwork.Detach"/> (and <c>incrun port</c>)
/// need nothing else.</summary>
public sealed record NetworkAttachment
{
    /// <summary>none, host, container:&lt;id&gt; or the network's name.</summary>
    public required string Mode { get; init; }
    public string? Network { get; init; }
    public string? Bridge { get; init; }
    public string? Subnet { get; init; }
    public string? IPAddress { get; init; }
    public int PrefixLength { get; init; }
    public string? Gateway { get; init; }
    public string? HostVeth { get; init; }
    public string? Name { get; init; }
    public string? Hostname { get; init; }
    public List<string> Aliases { get; init; } = [];
    public List<PublishedPort> Ports { get; init; } = [];
    public int Pid { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(NetworkDefinition))]
[JsonSerializable(typeof(NetworkAttachment))]
[JsonSerializable(typeof(List<NetworkDefinition>))]
internal sealed partial class NetworkJson : JsonSerializerContext;

/// <summary>
/// Network definitions under <c>&lt;root&gt;/networks/&lt;name&gt;.json</c> and each network's lease file
/// <c>&lt;name&gt;.leases</c> (one "address container-id" line per container, under an exclusive flock
/// that also serialises bridge creation and removal). The default network <c>bridge</c> is defined on
/// first use, with bridge <c>incrun0</c> and 10.88.0.0/16 unless the host already routes or uses them.
/// </summary>
public static partial class NetworkStore
{
    public const string DefaultNetwork = "bridge";
    static readonly string[] Predefined = ["bridge", "host", "none"];

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$")]
    private static partial Regex NamePattern();

    public static string Dir(string stateRoot) => Path.Combine(stateRoot, "networks");
    static string DefinitionPath(string stateRoot, string name) => Path.Combine(Dir(stateRoot), name + ".json");
    public static string LeasePath(string stateRoot, string name) => Path.Combine(Dir(stateRoot), name + ".leases");

    public static NetworkDefinition? Find(string stateRoot, string name)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(DefinitionPath(stateRoot, name)), NetworkJson.Default.NetworkDefinition); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
        catch (JsonException e) { throw RuntimeError.Plain($"network {name}: {DefinitionPath(stateRoot, name)} is corrupt: {e.Message}"); }
    }

    /// <summary>The network of that name (or unique id prefix); the default one is defined here on first use.</summary>
    public static NetworkDefinition Get(string stateRoot, string name)
    {
        if (Find(stateRoot, name) is { } d) return d;
        if (name == DefaultNetwork) return WithStoreLock(stateRoot, () => Find(stateRoot, name) ?? Define(stateRoot, name, null));
        var byId = List(stateRoot).Where(n => n.Id.StartsWith(name, StringComparison.Ordinal)).ToList();
        if (byId.Count == 1 && name.Length >= 3) return byId[0];
        throw RuntimeError.Plain($"network {name} not found");
    }

    public static List<NetworkDefinition> List(string stateRoot)
    {
        var dir = Dir(stateRoot);
        if (!Directory.Exists(dir)) return [];
        return [.. Directory.EnumerateFiles(dir, "*.json").Select(f => Find(stateRoot, Path.GetFileNameWithoutExtension(f))).OfType<NetworkDefinition>().OrderBy(n => n.Name, StringComparer.Ordinal)];
    }

    /// <summary><c>incrun network create</c>.</summary>
    public static NetworkDefinition Create(string stateRoot, string name, string? subnet)
    {
        if (Predefined.Contains(name)) throw RuntimeError.Plain($"network {name} is predefined: choose another name");
        if (!NamePattern().IsMatch(name)) throw RuntimeError.Plain($"invalid network name \"{name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        var wanted = subnet is null ? (Subnet?)null : Network.Subnet.Parse(subnet);
        return WithStoreLock(stateRoot, () =>
        {
            if (Find(stateRoot, name) is not null) throw RuntimeError.Plain($"network with name {name} already exists");
            return Define(stateRoot, name, wanted);
        });
    }

    /// <summary><c>incrun network rm</c>: refused while a container uses it.</summary>
    public static void Remove(string stateRoot, string name)
    {
        if (Predefined.Contains(name)) throw RuntimeError.Plain($"{name} is a pre-defined network and cannot be removed");
        var d = Get(stateRoot, name);
        WithStoreLock(stateRoot, () =>
        {
            Leases.Locked(stateRoot, d.Name, leases =>
            {
                if (leases.Entries.Count > 0)
                    throw RuntimeError.Plain($"error while removing network: network {d.Name} id {d.Id[..12]} has active endpoints ({leases.Entries.Count} container{(leases.Entries.Count == 1 ? "" : "s")})");
                File.Delete(DefinitionPath(stateRoot, d.Name));
                return 0;
            });
            File.Delete(LeasePath(stateRoot, d.Name));
            File.Delete(LeasePath(stateRoot, d.Name) + ".lock");
            return 0;
        });
    }

    /// <summary>Removes every user network without containers; returns their names.</summary>
    public static List<string> Prune(string stateRoot)
    {
        var removed = new List<string>();
        foreach (var n in List(stateRoot).Where(n => !Predefined.Contains(n.Name)))
            try { Remove(stateRoot, n.Name); removed.Add(n.Name); }
            catch (RuntimeError) { }
        return removed;
    }

    /// <summary>A new definition: the requested subnet (refused if it overlaps another network of
    /// incrun's or a host route), else the first free 10.88.0.0/16 (default) or 10.89.N.0/24.</summary>
    static NetworkDefinition Define(string stateRoot, string name, Subnet? wanted)
    {
        var others = List(stateRoot);
        var routes = Ipv4.HostRoutes();
        string? Conflict(Subnet s) =>
            others.FirstOrDefault(o => o.ParsedSubnet.Overlaps(s)) is { } o ? $"network {o.Name} ({o.Subnet})"
            : routes.FirstOrDefault(r => r.Subnet.Overlaps(s)) is { Device: not null } r && r.Subnet.Prefix > 0 ? $"a host route ({r.Subnet} dev {r.Device})"
            : null;
        Subnet subnet;
        if (wanted is { } w)
        {
            if (Conflict(w) is { } c) throw RuntimeError.Plain($"invalid subnet {w}: it overlaps {c}");
            subnet = w;
        }
        else
        {
            IEnumerable<Subnet> candidates = name == DefaultNetwork
                ? Enumerable.Range(88, 40).Select(i => new Subnet((uint)(10 << 24 | i << 16), 16))
                : Enumerable.Range(89, 40).SelectMany(i => Enumerable.Range(0, 256).Select(j => new Subnet((uint)(10 << 24 | i << 16 | j << 8), 24)));
            subnet = candidates.FirstOrDefault(s => Conflict(s) is null);
            if (subnet.Prefix == 0) throw RuntimeError.Plain("no free subnet left in 10.88.0.0-10.127.255.255: use --subnet");
        }
        var id = State.ContainerDirs.NewId();
        var existing = new HashSet<string>(Directory.Exists("/sys/class/net") ? Directory.GetFileSystemEntries("/sys/class/net").Select(f => Path.GetFileName(f)) : [], StringComparer.Ordinal);
        existing.UnionWith(others.Select(o => o.Bridge));
        var bridge = name == DefaultNetwork
            ? Enumerable.Range(0, 100).Select(i => $"incrun{i}").First(b => !existing.Contains(b))
            : "incrun-" + id[..8];
        var d = new NetworkDefinition
        {
            Name = name, Id = id, Bridge = bridge, Subnet = subnet.ToString(), Gateway = subnet.Gateway.ToString(), Created = DateTimeOffset.UtcNow,
        };
        Directory.CreateDirectory(Dir(stateRoot));
        var tmp = DefinitionPath(stateRoot, "." + name);
        File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(d, NetworkJson.Default.NetworkDefinition));
        File.Move(tmp, DefinitionPath(stateRoot, name), overwrite: true);
        return d;
    }

    static T WithStoreLock<T>(string stateRoot, Func<T> body)
    {
        using var _ = FileLock.Exclusive(Path.Combine(Dir(stateRoot), ".lock"));
        return body();
    }
}
