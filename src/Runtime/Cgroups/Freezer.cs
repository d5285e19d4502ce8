using Inception.Runtime.Errors;

namespace Inception.Runtime.Cgroups;

/// <summary>A container's processes as its cgroup sees them, and freezing them (OCI pause/resume):
/// cgroup v1 freezer.state FROZEN/THAWED, or v2 cgroup.freeze.</summary>
public static class Freezer
{
    static string? Dir(CgroupLayout layout, string cgroupsPath, string controller)
    {
        var rel = cgroupsPath.Trim('/');
        if (layout.UseV2) return Path.Combine(layout.Unified!, rel);
        return layout.V1.TryGetValue(controller, out var root) ? Path.Combine(root, rel) : null;
    }

    /// <summary>Every pid in the cgroup and its descendants.</summary>
    public static List<int> Pids(CgroupLayout layout, string cgroupsPath)
    {
        var dir = Dir(layout, cgroupsPath, "pids") ?? Dir(layout, cgroupsPath, "memory") ??
            (layout.V1.Count > 0 ? Path.Combine(layout.V1.Values.First(), cgroupsPath.Trim('/')) : null);
        var pids = new List<int>();
        if (dir is null || !Directory.Exists(dir)) return pids;
        try
        {
            foreach (var d in Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories).Prepend(dir))
                foreach (var line in File.ReadLines(Path.Combine(d, "cgroup.procs")))
                    if (int.TryParse(line, out var pid)) pids.Add(pid);
        }
        catch (IOException) { }
        return pids;
    }

    public static bool IsFrozen(CgroupLayout layout, string cgroupsPath)
    {
        try
        {
            if (layout.UseV2)
                return File.ReadAllText(Path.Combine(Dir(layout, cgroupsPath, "")!, "cgroup.freeze")).Trim() == "1";
            return Dir(layout, cgroupsPath, "freezer") is { } d && File.ReadAllText(Path.Combine(d, "freezer.state")).Trim() == "FROZEN";
        }
        catch (IOException) { return false; }
    }

    /// <summary>Freezes (or thaws) the cgroup and waits until the kernel reports it done.</summary>
    public static void Set(CgroupLayout layout, string cgroupsPath, bool frozen)
    {
        if (layout.UseV2)
        {
            var dir = Dir(layout, cgroupsPath, "")!;
            CgroupFiles.Write(dir, "cgroup.freeze", frozen ? "1" : "0");
            WaitFor(() => File.ReadAllText(Path.Combine(dir, "cgroup.events")).Contains(frozen ? "frozen 1" : "frozen 0"), dir);
            return;
        }
        var v1 = Dir(layout, cgroupsPath, "freezer") ?? throw RuntimeError.Plain("pause: this host has no cgroup v1 freezer hierarchy", 1);
        var want = frozen ? "FROZEN" : "THAWED";
        CgroupFiles.Write(v1, "freezer.state", want);
        WaitFor(() => File.ReadAllText(Path.Combine(v1, "freezer.state")).Trim() == want, v1);
    }

    static void WaitFor(Func<bool> done, string dir)
    {
        for (int i = 0; i < 2000; i++)
        {
            if (done()) return;
            Thread.Sleep(1);
        }
        throw RuntimeError.Plain($"freezer: {dir} did not change state within 2 s", 1);
    }
}
