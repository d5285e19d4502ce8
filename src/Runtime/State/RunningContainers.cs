using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;

namespace Inception.Runtime.State;

/// <summary>A container that is running now: its directory is locked by the incrun that runs it.</summary>
public sealed record RunningContainer(string Id, string Name, string Image, string CgroupsPath);

public static class RunningContainers
{
    /// <summary>Every running container, read from its config.json.</summary>
    public static List<RunningContainer> List(string stateRoot)
    {
        var result = new List<RunningContainer>();
        var root = ContainerDirs.ContainersRoot(stateRoot);
        if (!Directory.Exists(root)) return result;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            var id = Path.GetFileName(dir);
            if (id.StartsWith('.') || !IsLocked(dir)) continue;
            Spec? spec;
            try { spec = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dir, "config.json")), OciJson.Default.Spec); }
            catch (Exception e) when (e is IOException or JsonException) { continue; } // still starting
            if (spec is null) continue;
            var a = spec.Annotations ?? [];
            result.Add(new RunningContainer(id, a.GetValueOrDefault("org.incrun.name") is { Length: > 0 } n ? n : id[..12],
                a.GetValueOrDefault("org.incrun.image") ?? "", spec.Linux?.CgroupsPath ?? $"/{Run.ResourceParser.DefaultCgroupParent}/{id}"));
        }
        return result;
    }

    /// <summary>docker's lookup: full or unique-prefix id, or name.</summary>
    public static RunningContainer Find(IReadOnlyList<RunningContainer> running, string key)
    {
        if (running.FirstOrDefault(c => c.Id == key || c.Name == key) is { } exact) return exact;
        var matches = running.Where(c => c.Id.StartsWith(key, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw RuntimeError.Plain($"No such container: {key}"),
            _ => throw RuntimeError.Plain($"multiple containers match \"{key}\": use more of the id"),
        };
    }

    /// <summary>The container's OCI spec (its config.json).</summary>
    public static Spec ReadSpec(string stateRoot, string id)
    {
        var file = Path.Combine(ContainerDirs.ContainersRoot(stateRoot), id, "config.json");
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(file), OciJson.Default.Spec)
                ?? throw RuntimeError.Plain($"{file}: empty");
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            throw RuntimeError.Plain($"read {file}: {e.Message}");
        }
    }

    static bool IsLocked(string dir)
    {
        int fd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0) return false;
        try
        {
            if (Libc.flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) < 0) return true;
            Libc.flock(fd, Libc.LOCK_UN);
            return false;
        }
        finally { Libc.close(fd); }
    }
}
