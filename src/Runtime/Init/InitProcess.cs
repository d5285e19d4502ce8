using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.OciRuntime;
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
public static unsafe class InitProcess
{
    /// <summary>Environment variable naming the bundle dir; its presence selects init mode.</summary>
    public const string BundleVariable = "_INCRUN_INIT";
    /// <summary>Set when fd 4 carries the --explain trace.</summary>
    public const string TraceVariable = "_INCRUN_TRACE";
    /// <summary>Set by the OCI front end to the number of preserved fds (3..): init then has an exec gate
    /// and no parent-death signal (<see cref="OciSpawn"/>).</summary>
    public const string OciVariable = "_INCRUN_OCI";

    /// <summary>init's fds: 0-2 stdio, the preserved fds, the sync socket, the exec gate (OCI), the trace.</summary>
    readonly record struct Fds(int Preserved, int Sync, int Gate, int Trace);

    static Fds Layout()
    {
        int preserved = int.TryParse(Environment.GetEnvironmentVariable(OciVariable), out var n) ? n : -1;
        int sync = 3 + Math.Max(preserved, 0);
        int gate = preserved >= 0 ? sync + 1 : -1;
        return new Fds(preserved, sync, gate, Math.Max(sync, gate) + 1);
    }

    public static int Run(string bundle)
    {
        var fds = Layout();
        Libc.fcntl(fds.Sync, Libc.F_SETFD, Libc.FD_CLOEXEC);
        if (fds.Gate >= 0) Libc.fcntl(fds.Gate, Libc.F_SETFD, Libc.FD_CLOEXEC);
        using var sync = new SyncChannel(fds.Sync);
        ITrace trace = NoTrace.Instance;
        if (Environment.GetEnvironmentVariable(TraceVariable) is not null)
        {
            Libc.fcntl(fds.Trace, Libc.F_SETFD, Libc.FD_CLOEXEC);
            var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fds.Trace, true), FileAccess.Write, 1);
            trace = new TextTrace(new StreamWriter(stream) { AutoFlush = true }, "init");
        }
        bool released = false;   // past the exec gate: the runtime that created us is gone
        try
        {
            var first = sync.Receive();
            string? hookState = null;
            if (first?.Kind == SyncKind.HookState)
            {
                hookState = System.Text.Encoding.UTF8.GetString(first.Value.Payload!);
                first = sync.Receive();
            }
            if (first is null) return 125;              // the runtime went away before sending the spec
            if (first.Value.Kind != SyncKind.Spec) throw RuntimeError.Plain($"sync: expected the spec, got {first.Value.Kind}");
            var spec = SpecWire.Decode(first.Value.Payload);
            ISyscalls sys = trace.Enabled ? new TracingSyscalls(LinuxSyscalls.Instance, trace) : LinuxSyscalls.Instance;
            Run(spec, bundle, sys, sync, fds, hookState, () => released = true);
            return 0; // not reached: Run execs
        }
        catch (RuntimeError e)
        {
            Report(sync, e, released);
            return e.ExitCode;
        }
        catch (Exception e)
        {
            Report(sync, RuntimeError.Plain($"init: {e.GetType().Name}: {e.Message}"), released);
            return 125;
        }
    }

    static void Report(SyncChannel sync, RuntimeError e, bool released)
    {
        // After the exec gate nobody reads the sync socket: the error goes to the container's stderr.
        if (released) { try { Console.Error.WriteLine($"incrun-oci: {e.Message}"); } catch (IOException) { } return; }
        try { sync.Send(SyncKind.Error, e); } catch (RuntimeError) { }
    }

    static void Run(Spec spec, string bundle, ISyscalls sys, SyncChannel sync, Fds fds, string? hookState, Action released)
    {
        var process = spec.Process ?? throw RuntimeError.Plain("config.json has no process");
        if (process.Args.Count == 0) throw RuntimeError.Plain("no command specified");
        var namespaces = spec.Linux?.Namespaces ?? [];

        var rootfs = new RootfsSetup(sys, spec, bundle);
        // createContainer hooks: in the container's namespaces, mounts done, before pivot_root.
        rootfs.Prepare(beforePivot: spec.Hooks?.CreateContainer is { Count: > 0 } create
            ? () => HookRunner.Run(create, "createContainer", hookState ?? "{}", 1, 2)
            : null);

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
        if (spec.Domainname is { Length: > 0 } domain && namespaces.Any(n => n.Type == "uts"))
            Check(sys.SetDomainName(domain), "setdomainname", domain);
        if (spec.Linux?.Personality is { } persona) Check(sys.SetPersonality(Personality(persona.Domain)), "personality", persona.Domain);
        if (namespaces.Any(n => n.Type == "network" && n.Path is null))
            Check(sys.InterfaceUp("lo"), "bring up", "lo");

        foreach (var rl in process.Rlimits ?? [])
            Check(sys.SetRlimit(ProcessLimits.Resource(rl.Type), rl.Soft, rl.Hard), "prlimit", $"{rl.Type}={rl.Soft}:{rl.Hard}");
        if (process.OomScoreAdj is { } adj) Check(sys.SetOomScoreAdj(adj), "oom_score_adj", adj.ToString());

        var user = process.User;
        var caps = process.Capabilities;
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
        // A change of credentials clears the parent-death signal: set it again so the container dies with
        // incrun (not for the OCI front end: its init outlives `create`).
        if (fds.Gate < 0) Libc.prctl(Libc.PR_SET_PDEATHSIG, 9, 0, 0, 0);
        Libc.umask(user.Umask ?? 0x12 /* 022 */);

        if (Libc.chdir(process.Cwd) < 0) throw new RuntimeError("chdir", process.Cwd, Libc.Errno);

        var executable = ExecLookup.Find(process.Args[0], process.Env);

        var gate = fds.Gate >= 0 ? $"/proc/self/fd/{fds.Gate}" : null;
        if (gate is not null && Libc.access(gate, 0) < 0)
            throw new RuntimeError("exec fifo", gate, Libc.Errno, "the container needs /proc mounted (the exec gate is reached through /proc/self/fd)");

        sync.Send(SyncKind.Ready);
        if (gate is not null)
        {
            // The OCI exec gate: opening the FIFO for writing blocks until `start` opens it for reading.
            int fifo;
            do { fifo = Libc.open(gate, Libc.O_WRONLY | Libc.O_CLOEXEC, 0); } while (fifo < 0 && Libc.Errno == 4);
            released();
            if (fifo < 0) throw new RuntimeError("open", "exec fifo", Libc.Errno);
            byte zero = (byte)'0';
            Libc.write(fifo, &zero, 1);
            Libc.close(fifo);
            if (spec.Hooks?.StartContainer is { Count: > 0 } startHooks)
                HookRunner.Run(startHooks, "startContainer", (hookState ?? "{}").Replace("\"creating\"", "\"created\""), 1, 2);
        }
        else
        {
            var go = sync.Receive();
            if (go is null) Environment.Exit(125);        // the runtime went away: do not start
            if (go.Value.Kind != SyncKind.Go) throw RuntimeError.Plain($"sync: expected go-ahead, got {go.Value.Kind}");
        }

        // Every fd but stdio and the preserved ones closes at exec (the sync socket's close tells the
        // runtime exec succeeded).
        Libc.close_range((uint)(3 + Math.Max(fds.Preserved, 0)), uint.MaxValue, Libc.CLOSE_RANGE_CLOEXEC);
        int r = sys.Exec(executable, process.Args, process.Env);
        throw ExecLookup.ExecError(process.Args[0], -r);
    }

    /// <summary>personality(2) domains of linux.personality.</summary>
    static uint Personality(string domain) => domain switch
    {
        "LINUX" => 0,
        "LINUX32" => 0x0008,
        _ => throw RuntimeError.Plain($"linux.personality: unknown domain \"{domain}\" (LINUX or LINUX32)"),
    };

    static void Check(int r, string step, string subject)
    {
        if (r < 0) throw new RuntimeError(step, subject, -r);
    }
}
