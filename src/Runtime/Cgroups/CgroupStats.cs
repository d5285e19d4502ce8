namespace Inception.Runtime.Cgroups;

/// <summary>One reading of a container's usage from its cgroup files (what <c>incrun stats</c> shows).</summary>
public sealed record CgroupSample(ulong CpuNanoseconds, long MemoryUsage, long MemoryLimit, long Pids, long BlockRead, long BlockWrite,
    long NetReceived, long NetSent, DateTime Taken)
{
    /// <summary>CPU % between two samples: share of one CPU, as docker computes it (100% = one full CPU).</summary>
    public static double CpuPercent(CgroupSample before, CgroupSample after)
    {
        var wall = (after.Taken - before.Taken).TotalMilliseconds * 1e6;
        return wall <= 0 ? 0 : (after.CpuNanoseconds - before.CpuNanoseconds) / wall * 100.0;
    }
}

public static class CgroupStats
{
    public static CgroupSample Read(CgroupLayout layout, string cgroupsPath)
    {
        var rel = cgroupsPath.Trim('/');
        long hostMemory = HostMemory();
        if (layout.UseV2)
        {
            var dir = Path.Combine(layout.Unified!, rel);
            var cpu = KeyValue(Path.Combine(dir, "cpu.stat"), "usage_usec") * 1000;
            var limitText = ReadText(Path.Combine(dir, "memory.max"));
            long limit = limitText is null or "max" ? hostMemory : long.Parse(limitText);
            var (r, w) = IoV2(Path.Combine(dir, "io.stat"));
            var (rx, tx) = Net(dir);
            return new CgroupSample((ulong)cpu, ReadLong(Path.Combine(dir, "memory.current")) - KeyValue(Path.Combine(dir, "memory.stat"), "inactive_file"),
                limit, ReadLong(Path.Combine(dir, "pids.current")), r, w, rx, tx, DateTime.UtcNow);
        }
        string D(string controller) => layout.V1.TryGetValue(controller, out var root) ? Path.Combine(root, rel) : "/nonexistent";
        long memLimit = ReadLong(Path.Combine(D("memory"), "memory.limit_in_bytes"));
        var (br, bw) = BlkioV1(Path.Combine(D("blkio"), "blkio.throttle.io_service_bytes"));
        var (nrx, ntx) = Net(D("pids"));
        return new CgroupSample((ulong)ReadLong(Path.Combine(D("cpuacct"), "cpuacct.usage")),
            ReadLong(Path.Combine(D("memory"), "memory.usage_in_bytes")) - KeyValue(Path.Combine(D("memory"), "memory.stat"), "total_inactive_file"),
            memLimit <= 0 || memLimit > hostMemory ? hostMemory : memLimit,
            ReadLong(Path.Combine(D("pids"), "pids.current")), br, bw, nrx, ntx, DateTime.UtcNow);
    }

    /// <summary>The container's network traffic, from /proc/PID/net/dev of a process in its cgroup.</summary>
    static (long Rx, long Tx) Net(string cgroupDir)
    {
        var pid = ReadText(Path.Combine(cgroupDir, "cgroup.procs"))?.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (pid is null) return (0, 0);
        long rx = 0, tx = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/net/dev").Skip(2))
            {
                var parts = line.Split(':', 2);
                if (parts.Length < 2 || parts[0].Trim() == "lo") continue;
                var f = parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                rx += long.Parse(f[0]);
                tx += long.Parse(f[8]);
            }
        }
        catch (IOException) { }
        return (rx, tx);
    }

    static (long, long) BlkioV1(string file)
    {
        long r = 0, w = 0;
        foreach (var line in ReadText(file)?.Split('\n') ?? [])
        {
            var f = line.Split(' ');
            if (f.Length != 3 || !long.TryParse(f[2], out var n)) continue;
            if (f[1] == "Read") r += n; else if (f[1] == "Write") w += n;
        }
        return (r, w);
    }

    static (long, long) IoV2(string file)
    {
        long r = 0, w = 0;
        foreach (var line in ReadText(file)?.Split('\n') ?? [])
            foreach (var kv in line.Split(' '))
            {
                if (kv.StartsWith("rbytes=", StringComparison.Ordinal)) r += long.Parse(kv[7..]);
                else if (kv.StartsWith("wbytes=", StringComparison.Ordinal)) w += long.Parse(kv[7..]);
            }
        return (r, w);
    }

    static long KeyValue(string file, string key)
    {
        foreach (var line in ReadText(file)?.Split('\n') ?? [])
            if (line.StartsWith(key + " ", StringComparison.Ordinal) && long.TryParse(line[(key.Length + 1)..], out var v)) return v;
        return 0;
    }

    static long ReadLong(string file) => long.TryParse(ReadText(file), out var v) ? v : 0;

    static string? ReadText(string file)
    {
        try { return File.ReadAllText(file).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    static long HostMemory() =>
        File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:")) is { } l
            ? long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024 : long.MaxValue;
}
