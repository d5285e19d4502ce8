using Inception.Runtime.Native;

namespace Inception.Runtime.Security.Seccomp;

/// <summary>
/// linux.seccomp of the OCI features document: what <see cref="SeccompCompiler"/> handles, narrowed to
/// what this kernel offers (its actions_avail, and the filter flags seccomp(2) accepts).
/// </summary>
public static class SeccompFeatures
{
    const string ActionsAvail = "/proc/sys/kernel/seccomp/actions_avail";

    /// <summary>Whether the kernel filters system calls with BPF programs (CONFIG_SECCOMP_FILTER lists its actions).</summary>
    public static bool Enabled => File.Exists(ActionsAvail);

    /// <summary>The SCMP_ACT_* names the compiler handles whose return value the kernel offers.</summary>
    public static IEnumerable<string> Actions()
    {
        string[] avail;
        try { avail = File.ReadAllText(ActionsAvail).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
        return SeccompCompiler.Actions.Where(a => avail.Contains(KernelName(a.Value))).Select(a => a.Key).Order(StringComparer.Ordinal);
    }

    static string KernelName(uint ret) => ret switch
    {
        Bpf.RetAllow => "allow", Bpf.RetErrno => "errno", Bpf.RetKillThread => "kill_thread", Bpf.RetKillProcess => "kill_process",
        Bpf.RetTrap => "trap", Bpf.RetTrace => "trace", Bpf.RetLog => "log", _ => "",
    };

    public static IEnumerable<string> Operators => SeccompCompiler.OperatorNames.Order(StringComparer.Ordinal);

    /// <summary>Only x86_64: the program gives every other architecture's calls ENOSYS.</summary>
    public static IEnumerable<string> Architectures => [SeccompCompiler.Architecture];

    public static IEnumerable<string> KnownFlags => SeccompCompiler.FlagNames.Keys.Order(StringComparer.Ordinal);

    /// <summary>The known flags this kernel accepts: seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL) fails
    /// with EFAULT (no program) for a flag it knows and EINVAL for one it does not; nothing is installed.</summary>
    public static IEnumerable<string> SupportedFlags() =>
        SeccompCompiler.FlagNames.Where(f => Libc.syscall(Libc.SYS_seccomp, 1, (nint)f.Value, 0, 0) < 0 && Libc.Errno == 14)
            .Select(f => f.Key).Order(StringComparer.Ordinal);
}
