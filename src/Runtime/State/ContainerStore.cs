using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;

namespace Inception.Runtime.State;

/// <summary>A container as the store sees it: its directory, its state, and whether a live incrun
/// (the foreground CLI or the container's supervisor) holds its directory lock.</summary>
public sealed record ContainerEntry(string Dir, ContainerState State, bool Supervised)
{
    public string Id => State.Id;

    /// <summary>The container's OCI spec (config.json), or null while it is being written.</summary>
    public Spec? ReadSpec()
    {
        try { return SpecReader.Read(File.ReadAllBytes(Path.Combine(Dir, "config.json"))); }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    /// <summary>The container's cgroup path (relative to each hierarchy's root).</summary>
    public string CgroupsPath => ReadSpec()?.Linux?.CgroupsPath ?? $"/{Run.ResourceParser.DefaultCgroupParent}/{Id}";
}

/// <summary>
/// The containers under <c>&lt;root&gt;/containers</c>: listing, docker's lookup (name, id, unique id
/// prefix), unique names, and state changes. Two locks: the directory lock (held for as long as an incrun
/// supervises the container, see <see cref="ContainerDirs"/>) and <c>state.lock</c>, held only for a
/// read-modify-write of state.json, so parallel CLI calls and the supervisor never lose an update.
/// </summary>
public static class ContainerStore
{
    public const string StateFile = "state.json";

    public static ContainerState? Read(string dir)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dir, StateFile)), StateJson.Default.ContainerState); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Writes state.json atomically (a temporary file renamed over it).</summary>
    public static void Write(string dir, ContainerState state)
    {
        var temp = Path.Combine(dir, ".state.json.tmp");
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(state, StateJson.Default.ContainerState));
        File.Move(temp, Path.Combine(dir, StateFile), overwrite: true);
    }

    /// <summary>Read-modify-write of state.json under the container's state lock.</summary>
    public static ContainerState Update(string dir, Action<ContainerState> change)
    {
        using var _ = FileLock.Acquire(Path.Combine(dir, "state.lock"));
        var state = Read(dir) ?? throw RuntimeError.Plain($"container state missing in {dir}");
        change(state);
        Write(dir, state);
        return state;
    }

    /// <summary>Every container with a state file (being-created ones are skipped), oldest first.</summary>
    public static List<ContainerEntry> List(string stateRoot)
    {
        var result = new List<ContainerEntry>();
        var root = ContainerDirs.ContainersRoot(stateRoot);
        if (!Directory.Exists(root)) return result;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            if (Path.GetFileName(dir).StartsWith('.')) continue;
            if (Read(dir) is not { } state) continue;
            result.Add(new ContainerEntry(dir, state, ContainerDirs.IsLocked(dir)));
        }
        result.Sort((a, b) => a.State.Created.CompareTo(b.State.Created));
        return result;
    }

    /// <summary>docker's lookup: full id, exact name, or a unique id prefix.</summary>
    public static ContainerEntry Find(string stateRoot, string key) => Find(List(stateRoot), key);

    public static ContainerEntry Find(IReadOnlyList<ContainerEntry> all, string key)
    {
        var k = key.TrimStart('/');
        if (all.FirstOrDefault(c => c.Id == k) is { } byId) return byId;
        if (all.FirstOrDefault(c => c.State.Name == k) is { } byName) return byName;
        var matches = k.Length == 0 ? [] : all.Where(c => c.Id.StartsWith(k, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw RuntimeError.Plain($"No such container: {key}", 1),
            _ => throw RuntimeError.Plain($"multiple containers match \"{key}\": use more of the id", 1),
        };
    }

    /// <summary>Holds the store-wide lock that makes "is this name free, then take it" atomic.</summary>
    public static IDisposable LockNames(string stateRoot)
    {
        Directory.CreateDirectory(ContainerDirs.ContainersRoot(stateRoot));
        return FileLock.Acquire(Path.Combine(ContainerDirs.ContainersRoot(stateRoot), ".names.lock"));
    }

    /// <summary>Checks a requested name (docker's rules and uniqueness), or makes one up. Call under
    /// <see cref="LockNames"/>.</summary>
    public static string ChooseName(string stateRoot, string? requested, string id)
    {
        var taken = List(stateRoot).ToDictionary(c => c.State.Name, c => c.Id);
        if (requested is not null)
        {
            var name = requested.TrimStart('/');
            if (!ValidName(name))
                throw RuntimeError.Plain($"Invalid container name ({requested}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
            if (taken.TryGetValue(name, out var other))
                throw RuntimeError.Plain($"Conflict. The container name \"/{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name.");
            return name;
        }
        for (int attempt = 0; ; attempt++)
        {
            var name = Names.Generate(id, attempt);
            if (!taken.ContainsKey(name)) return name;
        }
    }

    public static bool ValidName(string name) =>
        name.Length > 0 && char.IsAsciiLetterOrDigit(name[0]) &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
}

/// <summary>An exclusive flock on a small lock file, released on dispose.</summary>
internal sealed class FileLock : IDisposable
{
    int _fd;
    FileLock(int fd) => _fd = fd;

    public static FileLock Acquire(string path)
    {
        int fd = Libc.open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0) throw new RuntimeError("open", path, Libc.Errno);
        while (Libc.flock(fd, Libc.LOCK_EX) < 0)
        {
            if (Libc.Errno == 4) continue;
            int errno = Libc.Errno;
            Libc.close(fd);
            throw new RuntimeError("flock", path, errno);
        }
        return new FileLock(fd);
    }

    public void Dispose()
    {
        if (_fd < 0) return;
        Libc.close(_fd);
        _fd = -1;
    }
}

/// <summary>docker-style generated names: adjective_noun, derived from the id so they are stable.</summary>
internal static class Names
{
    static readonly string[] Adjectives =
    [
        "agile", "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring", "eager", "fancy",
        "gentle", "glad", "happy", "humble", "jolly", "keen", "kind", "lively", "lucid", "merry", "mighty", "modest",
        "nimble", "noble", "patient", "plucky", "proud", "quick", "quiet", "rapid", "serene", "sharp", "shiny", "silent",
        "snappy", "solid", "steady", "sunny", "swift", "tender", "tidy", "vivid", "warm", "wise", "witty", "zealous",
    ];

    static readonly string[] Nouns =
    [
        "badger", "beaver", "bison", "cedar", "comet", "condor", "coral", "crane", "delta", "ember", "falcon", "fjord",
        "gecko", "glacier", "harbor", "heron", "ibis", "jaguar", "kestrel", "lagoon", "lemur", "lynx", "maple", "meadow",
        "nebula", "orca", "osprey", "otter", "panda", "pebble", "pine", "quartz", "raven", "reef", "river", "sparrow",
        "spruce", "summit", "tern", "tundra", "valley", "walrus", "willow", "yak", "zebra", "aurora", "canyon", "dune",
    ];

    public static string Generate(string id, int attempt)
    {
        var h = Convert.ToUInt64(id[..16], 16) + (ulong)attempt * 7919;
        var name = $"{Adjectives[h % (ulong)Adjectives.Length]}_{Nouns[(h / 64) % (ulong)Nouns.Length]}";
        return attempt < 8 ? name : $"{name}{attempt}";
    }
}
