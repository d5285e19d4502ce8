using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.Rootfs;
using Inception.Runtime.Security;
using Inception.Runtime.Syscalls;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Init;

/// <summary>
/// The container's init: the incrun binary re-executed by the C part inside the new namespaces, as
/// PID 1. It receives the spec from the runtime, builds the root filesystem, switches user, reports Ready, waits for Go and execs the
/// user's command. Any failure goes back to the runtime as step + path + errno over the sync socket.
/// </summary>
public static class InitProcess
{
    /// <summary>Environment variable naming the bundle dir; its presence selects init mode.</summary>
    public const string BundleVariable = "_INCRUN_INIT";
    /// <summary>Set when fd 4 carries the --explain trace.</summary>
    public const string TraceVariable = "_INCRUN_TRACE";
    public const int SyncFd = 3, TraceFd = 4;

    public static int Run(string bundle)
    {
        Libc.fcntl(SyncFd, Libc.F_SETFD, Libc.FD_CLOEXEC);
        using var sync = new SyncChannel(SyncFd);
        ITrace trace = NoTrace.Instance;
        if (Environment.GetEnvironmentVariable(TraceVariable) is not null)
        {
            Libc.fcntl(TraceFd, Libc.F_SETFD, Libc.FD_CLOEXEC);
            var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(TraceFd, true), FileAccess.Write, 1);
            trace = new TextTrace(new StreamWriter(stream) { AutoFlush = true }, "init");
        }
        try
        {
            var first = sync.Receive();
            if (first is null) return 125;              // the runtime went away before sending the spec
            if (first.Value.Kind != SyncKind.Spec) throw RuntimeError.Plain($"sync: expected the spec, got {first.Value.Kind}");
            var spec = SpecWire.Decode(first.Value.Payload);
            ISyscalls sys = trace.Enabled ? new TracingSyscalls(LinuxSyscalls.Instance, trace) : LinuxSyscalls.Instance;
            Run(spec, bundle, sys, sync);
            return 0; // not reached: Run execs
        }
        catch (RuntimeError e)
        {
            TrySend(sync, e);
            return e.ExitCode;
        }
        catch (Exception e)
        {
            TrySend(sync, RuntimeError.Plain($"init: {e.GetType().Name}: {e.Message}"));
            return 125;
        }
    }

    static void TrySend(SyncChannel sync, RuntimeError e)
    {
        try { sync.Send(SyncKind.Error, e); } catch (RuntimeError) { }
    }

    static void Run(Spec spec, string bundle, ISyscalls sys, SyncChannel sync)
    {
        var process = spec.Process ?? throw RuntimeError.Plain("config.json has no process");
        if (process.Args.Count == 0) throw RuntimeError.Plain("no command specified");
        var namespaces = spec.Linux?.Namespaces ?? [];

        var rootfs = new RootfsSetup(sys, spec, bundle);
        rootfs.Prepare();

        if (process.Terminal) Terminal.SetupConsole(sync, process.ConsoleSize);
        else Libc.setsid();

        foreach (var (name, value) in spec.Linux?.Sysctl ?? [])
            Check(sys.SetSysctl(name, value), "sysctl", $"{name}={value}");

        if (!process.Cwd.StartsWith('/'))
            throw RuntimeError.Plain($"the working directory '{process.Cwd}' is invalid, it needs to be an absolute path");
        rootfs.EnsureDirectory(process.Cwd);
        rootfs.Finish();

        if (spec.Hostname is { Length: > 0 } host && namespaces.Any(n => n.Type == "uts"))
            Check(sys.SetHostname(host), "sethostname", host);
        if (namespaces.Any(n => n.Type == "network" && n.Path is null))
            Check(sys.InterfaceUp("lo"), "bring up", "lo");

        foreach (var rl in process.Rlimits ?? [])
            Check(sys.SetRlimit(ProcessLimits.Resource(rl.Type), rl.Soft, rl.Hard), "prlimit", $"{rl.Type}={rl.Soft}:{rl.Hard}");
        if (process.OomScoreAdj is { } adj) Check(sys.SetOomScoreAdj(adj), "oom_score_adj", adj.ToString());

        var user = process.User;
        var caps = process.Capabilities;
        // Without no_new_privs the kernel lets only a CAP_SYS_ADMIN holder install a seccomp filter: then it
        // goes in now, before the credentials change (as runc does); otherwise last, right before execve.
        var seccomp = spec.Linux?.Seccomp;
        bool seccompLast = process.NoNewPrivileges || caps?.Effective?.Contains("CAP_SYS_ADMIN") == true;
        if (seccomp is not null && !seccompLast) InstallSeccomp(sys, seccomp);
        if (caps is not null) CapabilityChanges.DropBounding(sys, caps);
        Check(sys.SetGroups([.. user.AdditionalGids ?? []]), "setgroups", string.Join(',', user.AdditionalGids ?? []));
        if (caps is not null) Check(sys.SetKeepCapabilities(true), "prctl", "PR_SET_KEEPCAPS");
        Check(sys.SetResGid(user.Gid), "setresgid", user.Gid.ToString());
        Check(sys.SetResUid(user.Uid), "setresuid", user.Uid.ToString());
        if (caps is not null)
        {
            Check(sys.SetKeepCapabilities(false), "prctl", "PR_SET_KEEPCAPS");
            CapabilityChanges.Apply(sys, caps);
        }
        if (process.NoNewPrivileges) Check(sys.SetNoNewPrivileges(), "prctl", "PR_SET_NO_NEW_PRIVS");
        // A change of credentials clears the parent-death signal: set it again so the container dies with incrun.
        Libc.prctl(Libc.PR_SET_PDEATHSIG, 9, 0, 0, 0);
        Libc.umask(user.Umask ?? 0x12 /* 022 */);

        if (Libc.chdir(process.Cwd) < 0) throw new RuntimeError("chdir", process.Cwd, Libc.Errno);

        var executable = ExecLookup.Find(process.Args[0], process.Env);

        sync.Send(SyncKind.Ready);
        var go = sync.Receive();
        if (go is null) Environment.Exit(125);        // the runtime went away: do not start
        if (go.Value.Kind != SyncKind.Go) throw RuntimeError.Plain($"sync: expected go-ahead, got {go.Value.Kind}");

        // Every fd but stdio closes at exec (the sync socket's close tells the runtime exec succeeded).
        Libc.close_range(3, uint.MaxValue, Libc.CLOSE_RANGE_CLOEXEC);
        // No TSYNC: the filter is this thread's, and execve keeps it while the runtime's other threads end.
        if (seccomp is not null && seccompLast) InstallSeccomp(sys, seccomp);
        int r = sys.Exec(executable, process.Args, process.Env);
        throw ExecLookup.ExecError(process.Args[0], -r);
    }

    static void InstallSeccomp(ISyscalls sys, LinuxSeccomp seccomp)
    {
        var program = seccomp.Program ?? Security.Seccomp.BpfInstruction.ToBytes(Security.Seccomp.SeccompCompiler.Compile(seccomp));
        Check(sys.SetSeccompFilter(program, Security.Seccomp.SeccompCompiler.Flags(seccomp.Flags)), "seccomp", "SECCOMP_SET_MODE_FILTER");
    }

    static void Check(int r, string step, string subject)
    {
        if (r < 0) throw new RuntimeError(step, subject, -r);
    }
}
