using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Security;

/// <summary>docker's <c>--ulimit</c>, <c>--sysctl</c> and <c>--oom-score-adj</c>, checked and turned into
/// their OCI fields.</summary>
public static class ProcessLimits
{
    static readonly string[] RlimitNames =
        ["cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"];

    /// <summary>RLIMIT_NOFILE → 7 (the kernel's numbering).</summary>
    public static int Resource(string type) =>
        Array.IndexOf(RlimitNames, type.StartsWith("RLIMIT_", StringComparison.Ordinal) ? type[7..].ToLowerInvariant() : type) is var n and >= 0
            ? n : throw RuntimeError.Plain($"invalid ulimit type: {type}");

    /// <summary><c>nofile=1024:2048</c>, <c>nproc=512</c>, <c>core=-1</c> (unlimited).</summary>
    public static Rlimit ParseUlimit(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0) throw RuntimeError.Plain($"invalid ulimit argument: {text} (expected NAME=SOFT[:HARD])");
        var name = text[..eq].Trim().ToLowerInvariant();
        if (Array.IndexOf(RlimitNames, name) < 0) throw RuntimeError.Plain($"invalid ulimit type: {name}");
        var parts = text[(eq + 1)..].Split(':');
        if (parts.Length > 2) throw RuntimeError.Plain($"too many limit value arguments - {text[(eq + 1)..]}, can only have up to two, `soft[:hard]`");
        ulong soft = Value(parts[0], text), hard = parts.Length == 2 ? Value(parts[1], text) : soft;
        if (soft > hard) throw RuntimeError.Plain($"ulimit soft limit must be less than or equal to hard limit: {parts[0]} > {parts[1]}");
        return new Rlimit { Type = "RLIMIT_" + name.ToUpperInvariant(), Soft = soft, Hard = hard };
    }

    static ulong Value(string s, string whole) =>
        s.Trim() == "-1" ? ulong.MaxValue
        : ulong.TryParse(s.Trim(), out var v) ? v
        : throw RuntimeError.Plain($"invalid ulimit argument: {whole}");

    static readonly string[] IpcSysctls =
        ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];

    /// <summary>Only namespaced parameters: IPC ones, fs.mqueue.*, and net.* when the container has its
    /// own network namespace.</summary>
    public static KeyValuePair<string, string> ParseSysctl(string text, bool ownNetwork)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0) throw RuntimeError.Plain($"invalid sysctl \"{text}\": expected NAME=VALUE");
        var name = text[..eq].Trim().Replace('/', '.');
        if (name.Split('.').Any(p => p is "" or ".."))
            throw RuntimeError.Plain($"invalid sysctl \"{text}\"");
        bool ok = IpcSysctls.Contains(name) || name.StartsWith("fs.mqueue.", StringComparison.Ordinal) ||
                  (name.StartsWith("net.", StringComparison.Ordinal) && ownNetwork);
        if (!ok)
            throw RuntimeError.Plain(name.StartsWith("net.", StringComparison.Ordinal)
                ? $"sysctl \"{name}\" is not allowed with --network host: it would change the host's network settings"
                : $"sysctl \"{name}\" is not allowed in a container: it is not namespaced, so it would change the host");
        return new(name, text[(eq + 1)..]);
    }

    public static int ParseOomScoreAdj(int value) =>
        value is < -1000 or > 1000 ? throw RuntimeError.Plain($"Invalid value {value}, range for oom score adj is [-1000, 1000]") : value;
}
