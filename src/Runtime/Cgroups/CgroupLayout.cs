namespace Inception.Runtime.Cgroups;

/// <summary>
/// Where the host mounts its cgroup hierarchies, read from /proc/self/mountinfo and never changed:
/// pure cgroup v2 (unified at /sys/fs/cgroup with controllers), hybrid (v1 controllers plus a cgroup2
/// mount without controllers, like this project's CI machines) or pure v1. Containers use v2 only when
/// the unified hierarchy has the controllers; otherwise the v1 hierarchies.
/// </summary>
public sealed record CgroupLayout(string? Unified, IReadOnlyDictionary<string, string> V1)
{
    public bool UseV2 => Unified is not null && V1.Count == 0;

    /// <summary>Whether containers can have a cgroup at all here.</summary>
    public bool HasAny => UseV2 || V1.Count > 0;

    /// <summary>The v1 hierarchies as (mount point name, its controllers): ("cpu,cpuacct", [cpu, cpuacct]).</summary>
    public List<(string Name, List<string> Controllers)> Hierarchies() =>
        [.. V1.GroupBy(kv => kv.Value).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Path.GetFileName(g.Key), g.Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList()))];

    /// <summary>The host's layout. <c>INCRUN_CGROUP_MODE=v2</c> uses only the unified hierarchy on a hybrid
    /// host (its controllers stay with v1, so limits are refused there; tests use it to exercise the v2 path).</summary>
    public static CgroupLayout Detect(string mountinfo = "/proc/self/mountinfo")
    {
        var layout = Parse(File.ReadAllLines(mountinfo));
        return Environment.GetEnvironmentVariable("INCRUN_CGROUP_MODE") == "v2" && layout.Unified is not null
            ? layout with { V1 = new Dictionary<string, string>() }
            : layout;
    }

    public static CgroupLayout Parse(IEnumerable<string> mountinfoLines)
    {
        string? unified = null;
        var v1 = new Dictionary<string, string>();
        foreach (var line in mountinfoLines)
        {
            var dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0) continue;
            var left = line[..dash].Split(' ');
            var right = line[(dash + 3)..].Split(' ');
            if (left.Length < 5 || right.Length < 3) continue;
            var mountPoint = left[4].Replace("\\040", " ");
            if (right[0] == "cgroup2") unified ??= mountPoint;
            else if (right[0] == "cgroup")
                foreach (var opt in right[2].Split(','))
                    if (Controllers.Contains(opt)) v1.TryAdd(opt, mountPoint);
        }
        return new CgroupLayout(unified, v1);
    }

    /// <summary>The v1 controllers a container gets a directory in.</summary>
    public static readonly HashSet<string> Controllers =
        ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices", "net_cls", "net_prio", "perf_event", "hugetlb"];
}
