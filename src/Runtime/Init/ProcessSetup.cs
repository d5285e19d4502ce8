using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.Security;
using Inception.Runtime.Syscalls;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Init;

/// <summary>
/// What the container's init and exec-init (a process joining a running container) both do: receive a
/// spec over the sync socket and report failures on it, and set up the process from the spec's
/// process — limits, user, capabilities, exec — in the same order, through <see cref="ISyscalls"/>.
/// </summary>
/// <summary>What the runtime may send before the spec: the OCI hooks' state JSON, and the container's
/// root filesystem as a detached mount (an fd for move_mount; -1 when init mounts it itself).</summary>
internal readonly record struct Preamble(string? HookState, int RootMount);

internal static class ProcessSetup
{
    public const int SyncFd = 3, TraceFd = 4;

    /// <summary>The child's main loop: sync socket on fd 3 (and the --explain trace on fd 4 when
    /// <see cref="InitProcess.TraceVariable"/> is set), the spec first, then <paramref name="body"/>,
    /// which execs. Any failure goes back to the runtime as step + subject + errno.</summary>
    public static int Serve(string who, Action<Spec, ISyscalls, SyncChannel> body) =>
        Serve(who, SyncFd, TraceFd, (spec, sys, sync, _) => body(spec, sys, sync));

    /// <summary><see cref="Serve(string, Action{Spec, ISyscalls, SyncChannel})"/> with the sync socket and trace on
    /// the given fds, and the optional HookState and RootMount messages (passed on to <paramref name="body"/>)
    /// before the spec. Once <paramref name="released"/> says nobody reads the sync socket any more (past
    /// the OCI exec gate), a failure goes to the container's stderr instead.</summary>
    public static int Serve(string who, int syncFd, int traceFd, Action<Spec, ISyscalls, SyncChannel, Preamble> body, Func<bool>? released = null)
    {
        Libc.fcntl(syncFd, Libc.F_SETFD, Libc.FD_CLOEXEC);
        using var sync = new SyncChannel(syncFd);
        ITrace trace = NoTrace.Instance;
        if (Environment.GetEnvironmentVariable(InitProcess.TraceVariable) is not null)
        {
            Libc.fcntl(traceFd, Libc.F_SETFD, Libc.FD_CLOEXEC);
            var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(traceFd, true), FileAccess.Write, 1);
            trace = new TextTrace(new StreamWriter(stream) { AutoFlush = true }, who);
        }
        try
        {
            var first = sync.Receive();
            string? hookState = null;
            int rootMount = -1;
            while (first?.Kind is SyncKind.HookState or SyncKind.RootMount)
            {
                if (first.Value.Kind == SyncKind.HookState) hookState = System.Text.Encoding.UTF8.GetString(first.Value.Payload!);
                else rootMount = first.Value.Fd;
                first = sync.Receive();
            }
            if (first is null) return 125;              // the runtime went away before sending the spec
            if (first.Value.Kind != SyncKind.Spec) throw RuntimeError.Plain($"sync: expected the spec, got {first.Value.Kind}");
            var spec = SpecWire.Decode(first.Value.Payload);
            ISyscalls sys = trace.Enabled ? new TracingSyscalls(LinuxSyscalls.Instance, trace) : LinuxSyscalls.Instance;
            body(spec, sys, sync, new Preamble(hookState, rootMount));
            return 0; // not reached: body execs
        }
        catch (RuntimeError e)
        {
            Report(sync, e, released?.Invoke() == true);
            return e.ExitCode;
        }
        catch (Exception e)
        {
            Report(sync, RuntimeError.Plain($"{who}: {e.GetType().Name}: {e.Message}"), released?.Invoke() == true);
            return 125;
        }
    }

    static void Report(SyncChannel sync, RuntimeError e, bool released)
    {
        // After the OCI exec gate nobody reads the sync socket: the error goes to the container's stderr.
        if (released) { try { Console.Error.WriteLine($"incrun-oci: {e.Message}"); } catch (IOException) { } return; }
        try { sync.Send(SyncKind.Error, e); } catch (RuntimeError) { }
    }

    /// <summary>rlimits and oom_score_adj of the spec's process.</summary>
    public static void ApplyLimits(ISyscalls sys, Process process)
    {
        foreach (var rl in process.Rlimits ?? [])
            Check(sys.SetRlimit(ProcessLimits.Resource(rl.Type), rl.Soft, rl.Hard), "prlimit", $"{rl.Type}={rl.Soft}:{rl.Hard}");
        if (process.OomScoreAdj is { } adj) Check(sys.SetOomScoreAdj(adj), "oom_score_adj", adj.ToString());
    }

    /// <summary>The user, groups and capabilities of the spec's process in runc's order (bounding set
    /// while still root, keep-caps across setresuid, then capset and ambient), no_new_privs and umask.
    /// The parent-death signal, which a change of credentials clears, is kept.</summary>
    /// <remarks>Without no_new_privs the kernel lets only a CAP_SYS_ADMIN holder install a seccomp filter:
    /// then it goes in here, before the credentials change (as runc does); otherwise last, in <see cref="Exec"/>.</remarks>
    public static unsafe void SwitchUser(ISyscalls sys, Process process, LinuxSeccomp? seccomp)
    {
        int deathSignal = 0;
        Libc.prctl(2 /* PR_GET_PDEATHSIG */, (nuint)(&deathSignal), 0, 0, 0);
        var user = process.User;
        var caps = process.Capabilities;
        if (seccomp is not null && !SeccompLast(process)) InstallSeccomp(sys, seccomp);
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
        // So the container's process still dies with incrun.
        if (deathSignal != 0) Libc.prctl(Libc.PR_SET_PDEATHSIG, (nuint)deathSignal, 0, 0, 0);
        Libc.umask(user.Umask ?? 0x12 /* 022 */);
    }

    /// <summary>Every fd but stdio (and <paramref name="keepFds"/> fds from 3 on: the OCI preserved fds)
    /// closes at exec (the sync socket's close tells the runtime exec succeeded), then execve; returns only
    /// by throwing docker's 126/127 error.</summary>
    public static RuntimeError Exec(ISyscalls sys, Process process, string executable, LinuxSeccomp? seccomp, int keepFds = 0)
    {
        Libc.close_range((uint)(3 + keepFds), uint.MaxValue, Libc.CLOSE_RANGE_CLOEXEC);
        // No TSYNC: the filter is this thread's, and execve keeps it while the runtime's other threads end.
        if (seccomp is not null && SeccompLast(process)) InstallSeccomp(sys, seccomp);
        int r = sys.Exec(executable, process.Args, process.Env);
        return ExecLookup.ExecError(process.Args[0], -r);
    }

    static bool SeccompLast(Process process) =>
        process.NoNewPrivileges || process.Capabilities?.Effective?.Contains("CAP_SYS_ADMIN") == true;

    static void InstallSeccomp(ISyscalls sys, LinuxSeccomp seccomp)
    {
        var program = seccomp.Program ?? Security.Seccomp.BpfInstruction.ToBytes(Security.Seccomp.SeccompCompiler.Compile(seccomp));
        Check(sys.SetSeccompFilter(program, Security.Seccomp.SeccompCompiler.Flags(seccomp.Flags)), "seccomp", "SECCOMP_SET_MODE_FILTER");
    }

    public static void Check(int r, string step, string subject)
    {
        if (r < 0) throw new RuntimeError(step, subject, -r);
    }
}
