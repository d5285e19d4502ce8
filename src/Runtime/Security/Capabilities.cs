using Inception.Runtime.Errors;

namespace Inception.Runtime.Security;

/// <summary>Linux capability names and numbers (linux/capability.h), docker's default set, and the
/// arithmetic of <c>--cap-add</c> / <c>--cap-drop</c>.</summary>
public static class Capabilities
{
    static readonly string[] Names =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>docker's default set for containers.</summary>
    public static readonly string[] DockerDefault =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    /// <summary>The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).</summary>
    public static int LastCap { get; } = ReadLastCap();

    /// <summary>Every capability incrun itself holds (its bounding set), which is what "all" can mean:
    /// a container cannot be given a capability its runtime lacks (as with docker's daemon).</summary>
    public static IEnumerable<string> All
    {
        get
        {
            ulong own = OwnBoundingSet();
            return Names.Take(Math.Min(Names.Length, LastCap + 1)).Where((_, i) => (own & (1UL << i)) != 0);
        }
    }

    static ulong OwnBoundingSet()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("CapBnd:", StringComparison.Ordinal))
                    return Convert.ToUInt64(line[7..].Trim(), 16);
        }
        catch (Exception e) when (e is IOException or FormatException) { }
        return ulong.MaxValue;
    }

    /// <summary>"CAP_SYS_ADMIN", "SYS_ADMIN" or "sys_admin" → "CAP_SYS_ADMIN"; throws for unknown names.</summary>
    public static string Normalize(string name)
    {
        var upper = name.Trim().ToUpperInvariant();
        var full = upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper : "CAP_" + upper;
        if (Array.IndexOf(Names, full) < 0) throw RuntimeError.Plain($"unknown capability: \"{name}\"");
        return full;
    }

    public static int Number(string name) =>
        Array.IndexOf(Names, name) is var n and >= 0 ? n : throw RuntimeError.Plain($"unknown capability: \"{name}\"");

    /// <summary>A bit mask of the named capabilities (those the running kernel knows).</summary>
    public static ulong Mask(IEnumerable<string>? names)
    {
        ulong mask = 0;
        foreach (var name in names ?? [])
        {
            int n = Number(name);
            if (n <= LastCap) mask |= 1UL << n;
        }
        return mask;
    }

    /// <summary>docker's rule: drop ALL empties the set before adds; add ALL is every capability; otherwise
    /// the default set plus adds minus drops.</summary>
    public static List<string> Resolve(IEnumerable<string> adds, IEnumerable<string> drops, bool privileged)
    {
        var add = adds.Select(a => a.Trim().Equals("ALL", StringComparison.OrdinalIgnoreCase) ? "ALL" : Normalize(a)).ToList();
        var drop = drops.Select(d => d.Trim().Equals("ALL", StringComparison.OrdinalIgnoreCase) ? "ALL" : Normalize(d)).ToList();
        if (privileged || add.Contains("ALL"))
            return [.. All.Where(c => !drop.Contains(c) || privileged)];
        var set = drop.Contains("ALL") ? new List<string>() : [.. DockerDefault.Where(c => !drop.Contains(c))];
        foreach (var c in add) if (!set.Contains(c)) set.Add(c);
        return set;
    }

    static int ReadLastCap()
    {
        try { return int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim()); }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { return 40; }
    }
}
