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

    public static int Run(string bundle) => ProcessSetup.Serve("init", (spec, sys, sync) => Run(spec, bundle, sys, sync));

    static void Run(Spec spec, string bundle, ISyscalls sys, SyncChannel sync)
    {
        var process = spec.Process ?? throw RuntimeError.Plain("config.json has no process");
        if (process.Args.Count == 0) throw RuntimeError.Plain("no command specified");
        var namespaces = spec.Linux?.Namespaces ?? [];

        var rootfs = new RootfsSetup(sys, spec, bundle);
        rootfs.Prepare();

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
        if (namespaces.Any(n => n.Type == "network" && n.Path is null))
            Check(sys.InterfaceUp("lo"), "bring up", "lo");

        ProcessSetup.ApplyLimits(sys, process);
        var seccomp = spec.Linux?.Seccomp;
        ProcessSetup.SwitchUser(sys, process, seccomp);

        if (Libc.chdir(process.Cwd) < 0) throw new RuntimeError("chdir", process.Cwd, Libc.Errno);

        var executable = ExecLookup.Find(process.Args[0], process.Env);

        sync.Send(SyncKind.Ready);
        var go = sync.Receive();
        if (go is null) Environment.Exit(125);        // the runtime went away: do not start
        if (go.Value.Kind != SyncKind.Go) throw RuntimeError.Plain($"sync: expected go-ahead, got {go.Value.Kind}");

        throw ProcessSetup.Exec(sys, process, executable, seccomp);
    }

    static void Check(int r, string step, string subject) => ProcessSetup.Check(r, step, subject);
}
