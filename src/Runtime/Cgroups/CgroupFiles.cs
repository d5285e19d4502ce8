using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Cgroups;

/// <summary>OCI linux.resources → cgroup files (v2: memory.max, cpu.max, ...; v1: memory.limit_in_bytes,
/// cpu.cfs_quota_us, ...). Shares map to weight as crun and the OCI convention do.</summary>
internal static unsafe class CgroupFiles
{
    /// <summary>One write(2) of <paramref name="value"/> to a control file: open, write, close (File.WriteAllText
    /// adds fstatfs, flock, ftruncate and lseek to each of the dozen writes a container's cgroup takes).</summary>
    public static void Write(string dir, string file, string value)
    {
        var path = Path.Combine(dir, file);
        int fd = Native.Libc.open(path, Native.Libc.O_WRONLY | Native.Libc.O_CREAT | Native.Libc.O_TRUNC | Native.Libc.O_CLOEXEC, 0x1b6 /* 0666 less umask */);
        if (fd < 0) throw RuntimeError.Plain($"write {path} ({value}): {Native.Libc.StrError(Native.Libc.Errno)}");
        try
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(value);
            nint n;
            fixed (byte* p = bytes)
                do { n = Native.Libc.write(fd, p, (nuint)bytes.Length); } while (n < 0 && Native.Libc.Errno == 4 /* EINTR */);
            if (n < 0) throw RuntimeError.Plain($"write {path} ({value}): {Native.Libc.StrError(Native.Libc.Errno)}");
        }
        finally { Native.Libc.close(fd); }
    }

    /// <summary>A small control file's text (the first 4 KiB): open, read, close.</summary>
    public static string Read(string path)
    {
        int fd = Native.Libc.open(path, Native.Libc.O_RDONLY | Native.Libc.O_CLOEXEC, 0);
        if (fd < 0) throw RuntimeError.Plain($"read {path}: {Native.Libc.StrError(Native.Libc.Errno)}");
        try
        {
            byte* buf = stackalloc byte[4096];
            nint n;
            do { n = Native.Libc.read(fd, buf, 4096); } while (n < 0 && Native.Libc.Errno == 4 /* EINTR */);
            if (n < 0) throw RuntimeError.Plain($"read {path}: {Native.Libc.StrError(Native.Libc.Errno)}");
            return System.Text.Encoding.UTF8.GetString(buf, (int)n);
        }
        finally { Native.Libc.close(fd); }
    }

    public static void ApplyV1(ContainerCgroup cg, LinuxResources r)
    {
        if (r.Memory is { } m && cg.V1Dir("memory") is { } mem)
        {
            if (m.Limit is { } limit) Write(mem, "memory.limit_in_bytes", limit.ToString());
            if (m.Swap is { } swap)
            {
                if (!File.Exists(Path.Combine(mem, "memory.memsw.limit_in_bytes")))
                    throw RuntimeError.Plain("--memory-swap: this kernel has no swap accounting (memory.memsw.limit_in_bytes is missing)");
                Write(mem, "memory.memsw.limit_in_bytes", swap.ToString());
            }
            if (m.Reservation is { } res) Write(mem, "memory.soft_limit_in_bytes", res.ToString());
            if (m.DisableOomKiller == true) Write(mem, "memory.oom_control", "1");
        }
        if (r.Cpu is { } c)
        {
            if (cg.V1Dir("cpu") is { } cpu)
            {
                if (c.Shares is { } shares) Write(cpu, "cpu.shares", shares.ToString());
                if (c.Period is { } period) Write(cpu, "cpu.cfs_period_us", period.ToString());
                if (c.Quota is { } quota) Write(cpu, "cpu.cfs_quota_us", quota.ToString());
            }
            if (cg.V1Dir("cpuset") is { } cpuset)
            {
                if (c.Cpus is { Length: > 0 } cpus) Write(cpuset, "cpuset.cpus", cpus);
                if (c.Mems is { Length: > 0 } mems) Write(cpuset, "cpuset.mems", mems);
            }
        }
        if (r.Pids is { } p && cg.V1Dir("pids") is { } pids)
            Write(pids, "pids.max", p.Limit <= 0 ? "max" : p.Limit.ToString());
        if (r.Devices is { } rules && cg.V1Dir("devices") is { } devices)
            foreach (var rule in rules)
                Write(devices, rule.Allow ? "devices.allow" : "devices.deny", Security.Devices.Line(rule));
        if (r.BlockIo is { } io && cg.V1Dir("blkio") is { } blkio)
        {
            if (io.Weight is { } w) Write(blkio, WeightFile(blkio, "blkio.weight", "blkio.bfq.weight"), w.ToString());
            foreach (var (file, list) in new[] {
                ("blkio.throttle.read_bps_device", io.ThrottleReadBpsDevice), ("blkio.throttle.write_bps_device", io.ThrottleWriteBpsDevice),
                ("blkio.throttle.read_iops_device", io.ThrottleReadIopsDevice), ("blkio.throttle.write_iops_device", io.ThrottleWriteIopsDevice) })
                foreach (var d in list ?? [])
                    Write(blkio, file, $"{d.Major}:{d.Minor} {d.Rate}");
        }
    }

    /// <summary>The weight file this host's I/O scheduler offers, or a clear error.</summary>
    static string WeightFile(string dir, params string[] candidates) =>
        candidates.FirstOrDefault(f => File.Exists(Path.Combine(dir, f)))
        ?? throw RuntimeError.Plain($"--blkio-weight: this host's I/O scheduler takes no weights (none of {string.Join(", ", candidates)} in {dir})");

    public static void ApplyV2(string dir, LinuxResources r)
    {
        if (r.Memory is { } m)
        {
            if (m.Limit is { } limit) Write(dir, "memory.max", limit < 0 ? "max" : limit.ToString());
            if (m.Swap is { } swap)
                Write(dir, "memory.swap.max", swap < 0 ? "max" : Math.Max(0, swap - (m.Limit ?? 0)).ToString());
            if (m.Reservation is { } res) Write(dir, "memory.low", res.ToString());
            if (m.DisableOomKiller == true)
                throw RuntimeError.Plain("--oom-kill-disable: cgroup v2 has no way to disable the OOM killer");
        }
        if (r.Cpu is { } c)
        {
            if (c.Shares is { } shares) Write(dir, "cpu.weight", SharesToWeight(shares).ToString());
            if (c.Quota is not null || c.Period is not null)
                Write(dir, "cpu.max", $"{(c.Quota is { } q && q > 0 ? q.ToString() : "max")} {c.Period ?? 100000}");
            if (c.Cpus is { Length: > 0 } cpus) Write(dir, "cpuset.cpus", cpus);
            if (c.Mems is { Length: > 0 } mems) Write(dir, "cpuset.mems", mems);
        }
        if (r.Pids is { } p) Write(dir, "pids.max", p.Limit <= 0 ? "max" : p.Limit.ToString());
        if (r.BlockIo is { } io)
        {
            if (io.Weight is { } w)
            {
                var file = WeightFile(dir, "io.bfq.weight", "io.weight");
                Write(dir, file, file == "io.weight" ? $"default {w}" : w.ToString());
            }
            var limits = new Dictionary<string, List<string>>();
            void Add(List<LinuxThrottleDevice>? list, string key)
            {
                foreach (var d in list ?? [])
                {
                    var dev = $"{d.Major}:{d.Minor}";
                    if (!limits.TryGetValue(dev, out var l)) limits[dev] = l = [];
                    l.Add($"{key}={d.Rate}");
                }
            }
            Add(io.ThrottleReadBpsDevice, "rbps");
            Add(io.ThrottleWriteBpsDevice, "wbps");
            Add(io.ThrottleReadIopsDevice, "riops");
            Add(io.ThrottleWriteIopsDevice, "wiops");
            foreach (var (dev, l) in limits) Write(dir, "io.max", $"{dev} {string.Join(' ', l)}");
        }
    }

    /// <summary>cpu.shares [2, 262144] → cpu.weight [1, 10000], the conversion runc and crun use.</summary>
    public static ulong SharesToWeight(ulong shares) => shares == 0 ? 100 : 1 + ((Math.Clamp(shares, 2, 262144) - 2) * 9999) / 262142;
}
