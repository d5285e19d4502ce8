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
        if (fds.Gate >= 0) Libc.fcntl(fds.Gate, Libc.F_SETFD, Libc.FD_CLOEXEC);
        bool released = false;   // past the exec gate: the runtime that created us is gone
        return ProcessSetup.Serve("init", fds.Sync, fds.Trace,
            (spec, sys, sync, pre) => Run(spec, bundle, sys, sync, fds, pre, () => released = true), () => released);
    }

    static void Run(Spec spec, string bundle, ISyscalls sys, SyncChannel sync, Fds fds, Preamble pre, Action released)
    {
        var hookState = pre.HookState;
        var process = spec.Process ?? throw RuntimeError.Plain("config.json has no process");
        if (process.Args.Count == 0) throw RuntimeError.Plain("no command specified");
        var namespaces = spec.Linux?.Namespaces ?? [];

        var rootfs = new RootfsSetup(sys, spec, bundle, pre.RootMount);
        // createContainer hooks: in the container's namespaces, mounts done, before pivot_root.
        rootfs.Prepare(beforePivot: spec.Hooks?.CreateContainer is { Count: > 0 } create
            ? () => HookRunner.Run(create, "createContainer", hookState ?? "{}", 1, 2)
            : null);

        if (process.Terminal) Terminal.SetupConsole(sync, process.ConsoleSize, process.User.Uid);
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

        ProcessSetup.ApplyLimits(sys, process);
        var seccomp = spec.Linux?.Seccomp;
        ProcessSetup.SwitchUser(sys, process, seccomp);

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

        // The preserved fds stay open into the command.
        throw ProcessSetup.Exec(sys, process, executable, seccomp, keepFds: Math.Max(fds.Preserved, 0));
    }

    /// <summary>personality(2) domains of linux.personality.</summary>
    static uint Personality(string domain) => domain switch
    {
        "LINUX" => 0,
        "LINUX32" => 0x0008,
        _ => throw RuntimeError.Plain($"linux.personality: unknown domain \"{domain}\" (LINUX or LINUX32)"),
    };

    static void Check(int r, string step, string subject) => ProcessSetup.Check(r, step, subject);
}
