using System.Globalization;
using System.Text.RegularExpressions;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Run;

/// <summary>docker's resource flags → OCI linux.resources, with docker's checks and messages; nothing
/// is created before these pass.</summary>
public static partial class ResourceParser
{
    public const long MinimumMemory = 6 * 1024 * 1024; // docker's floor

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)\s*([kmgtp]?)b?$", RegexOptions.IgnoreCase)]
    private static partial Regex SizePattern();

    /// <summary>docker's RAMInBytes: 100, 512k, 64m, 1.5g, 64MB (binary units).</summary>
    public static long ParseSize(string flag, string value)
    {
        var m = SizePattern().Match(value.Trim());
        if (!m.Success) throw RuntimeError.Plain($"invalid size for {flag}: '{value}' (use a number with an optional unit: b, k, m, g)");
        var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var unit = m.Groups[2].Value.ToLowerInvariant() switch { "k" => 1L << 10, "m" => 1L << 20, "g" => 1L << 30, "t" => 1L << 40, "p" => 1L << 50, _ => 1L };
        return (long)(n * unit);
    }

    public static LinuxResources? Parse(ResourceFlags f, int hostCpus, Func<string> availableCpus)
    {
        if (f.KernelMemory is not null)
            throw RuntimeError.Plain("--kernel-memory is not supported: Linux no longer has kernel memory limits (since 5.16)");
        var r = new LinuxResources();

        long? limit = f.Memory is null ? null : ParseSize("--memory", f.Memory);
        if (limit is { } l && l < MinimumMemory) throw RuntimeError.Plain("Minimum memory limit allowed is 6MB");
        long? swap = null;
        if (f.MemorySwap is { } sw)
        {
            swap = sw.Trim() == "-1" ? -1 : ParseSize("--memory-swap", sw);
            if (limit is null) throw RuntimeError.Plain("You should always set the Memory limit when using Memoryswap limit, see usage");
            if (swap != -1 && swap < limit) throw RuntimeError.Plain("Minimum memoryswap limit should be larger than memory limit, see usage");
        }
        long? reservation = f.MemoryReservation is null ? null : ParseSize("--memory-reservation", f.MemoryReservation);
        if (limit is not null || swap is not null || reservation is not null || f.OomKillDisable)
            r.Memory = new LinuxMemory { Limit = limit, Swap = swap, Reservation = reservation, DisableOomKiller = f.OomKillDisable ? true : null };

        var cpu = new LinuxCpu();
        if (f.Cpus is { } cpus)
        {
            if (f.CpuQuota is not null || f.CpuPeriod is not null)
                throw RuntimeError.Plain("Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set");
            if (!double.TryParse(cpus, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0.01 || n > hostCpus)
                throw RuntimeError.Plain($"range of CPUs is from 0.01 to {hostCpus}.00, as there are only {hostCpus} CPUs available");
            cpu.Period = 100000;
            cpu.Quota = (long)Math.Round(n * 100000);
        }
        if (f.CpuQuota is { } quota)
        {
            if (quota != -1 && quota < 1000) throw RuntimeError.Plain("CPU cfs quota can not be less than 1ms (i.e. 1000)");
            cpu.Quota = quota;
        }
        if (f.CpuPeriod is { } period)
        {
            if (period < 1000 || period > 1000000) throw RuntimeError.Plain("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
            cpu.Period = (ulong)period;
        }
        if (f.CpuShares is { } shares)
        {
            if (shares < 0) throw RuntimeError.Plain($"invalid --cpu-shares: {shares}");
            cpu.Shares = (ulong)shares;
        }
        if (f.CpusetCpus is { } set)
        {
            var requested = ParseCpuList("--cpuset-cpus", set);
            var online = availableCpus();
            var available = ParseCpuList("available CPUs", online);
            var missing = requested.Where(c => !available.Contains(c)).ToList();
            if (missing.Count > 0)
                throw RuntimeError.Plain($"Requested CPUs are not available - requested {set}, available: {online}");
            cpu.Cpus = set;
        }
        if (f.CpusetMems is { } mems)
        {
            ParseCpuList("--cpuset-mems", mems);
            cpu.Mems = mems;
        }
        if (cpu.Period is not null || cpu.Quota is not null || cpu.Shares is not null || cpu.Cpus is not null || cpu.Mems is not null)
            r.Cpu = cpu;

        if (f.PidsLimit is { } pids) r.Pids = new LinuxPids { Limit = pids <= 0 ? -1 : pids };

        var io = new LinuxBlockIo();
        if (f.BlkioWeight is { } weight)
        {
            if (weight is < 10 or > 1000) throw RuntimeError.Plain("Range of blkio weight is from 10 to 1000");
            io.Weight = (ushort)weight;
        }
        io.ThrottleReadBpsDevice = Throttles("--device-read-bps", f.DeviceReadBps, bytes: true);
        io.ThrottleWriteBpsDevice = Throttles("--device-write-bps", f.DeviceWriteBps, bytes: true);
        io.ThrottleReadIopsDevice = Throttles("--device-read-iops", f.DeviceReadIops, bytes: false);
        io.ThrottleWriteIopsDevice = Throttles("--device-write-iops", f.DeviceWriteIops, bytes: false);
        if (io.Weight is not null || io.ThrottleReadBpsDevice is not null || io.ThrottleWriteBpsDevice is not null ||
            io.ThrottleReadIopsDevice is not null || io.ThrottleWriteIopsDevice is not null)
            r.BlockIo = io;
        return r.Memory is null && r.Cpu is null && r.Pids is null && r.BlockIo is null ? null : r;
    }

    /// <summary>docker's <c>DEVICE:RATE</c> (<c>/dev/sda:1mb</c>, <c>/dev/sda:100</c>): a block device of the host.</summary>
    static List<LinuxThrottleDevice>? Throttles(string flag, IReadOnlyList<string> values, bool bytes)
    {
        if (values.Count == 0) return null;
        var list = new List<LinuxThrottleDevice>();
        foreach (var v in values)
        {
            int colon = v.LastIndexOf(':');
            if (colon <= 0) throw RuntimeError.Plain($"bad format for {flag}: \"{v}\" (expected DEVICE:RATE)");
            var (path, rateText) = (v[..colon], v[(colon + 1)..]);
            ulong rate;
            if (bytes) rate = (ulong)ParseSize(flag, rateText);
            else if (!ulong.TryParse(rateText, out rate)) throw RuntimeError.Plain($"invalid rate for {flag}: \"{rateText}\" (expected a number of operations per second)");
            int err = Native.Libc.StatPath(path, out var st);
            if (err != 0) throw new RuntimeError(flag, path, err);
            if ((st.Mode & 0xF000) != 0x6000) throw RuntimeError.Plain($"{flag}: {path} is not a block device");
            list.Add(new LinuxThrottleDevice { Major = Native.Libc.Major(st.Rdev), Minor = Native.Libc.Minor(st.Rdev), Rate = rate });
        }
        return list;
    }

    /// <summary>The shared parent cgroup of containers: "incrun", or <c>INCRUN_CGROUP_PARENT</c> (test rigs
    /// running several state roots side by side give each its own).</summary>
    public static string DefaultCgroupParent { get; } =
        Environment.GetEnvironmentVariable("INCRUN_CGROUP_PARENT") is { Length: > 0 } p && !p.Contains('/') ? p : "incrun";

    /// <summary>The cgroup of a container: &lt;parent&gt;/&lt;id&gt;, parent <see cref="DefaultCgroupParent"/> unless --cgroup-parent.</summary>
    public static string CgroupsPath(ResourceFlags f, string id)
    {
        var parent = (f.CgroupParent ?? DefaultCgroupParent).Trim('/');
        if (parent.Length == 0 || parent.Split('/').Any(p => p is "" or "." or ".."))
            throw RuntimeError.Plain($"invalid --cgroup-parent \"{f.CgroupParent}\": expected a path like incrun or mygroup/sub");
        return $"/{parent}/{id}";
    }

    /// <summary>"0-2,5" → {0,1,2,5}.</summary>
    public static HashSet<int> ParseCpuList(string flag, string list)
    {
        var result = new HashSet<int>();
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            if (range.Length > 2 || !int.TryParse(range[0], out var lo) || lo < 0 ||
                !int.TryParse(range[^1], out var hi) || hi < lo)
                throw RuntimeError.Plain($"invalid value \"{list}\" for {flag}: expected a list like 0-2,5");
            for (int i = lo; i <= hi; i++) result.Add(i);
        }
        if (result.Count == 0) throw RuntimeError.Plain($"invalid value \"{list}\" for {flag}: expected a list like 0-2,5");
        return result;
    }

    /// <summary>The CPUs containers may use: the root cpuset (v1) or the online CPUs.</summary>
    public static string AvailableCpus()
    {
        foreach (var f in new[] { "/sys/fs/cgroup/cpuset/cpuset.cpus", "/sys/fs/cgroup/cpuset.cpus.effective", "/sys/devices/system/cpu/online" })
            if (File.Exists(f) && File.ReadAllText(f).Trim() is { Length: > 0 } v) return v;
        return $"0-{Environment.ProcessorCount - 1}";
    }
}
