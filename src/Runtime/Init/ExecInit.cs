using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.Syscalls;

namespace Inception.Runtime.Init;

/// <summary>
/// exec-init: the incrun binary that the C part has already moved into a running container's cgroups
/// and namespaces (see incrun_native.c). It receives the process to run (a spec with only a process)
/// and sets it up the way init sets up the container's command — console, limits, user and
/// capabilities, working directory — then execs it. Failures go back over the sync socket.
/// </summary>
public static class ExecInit
{
    /// <summary>"&lt;pidfd&gt; &lt;clone flags&gt; &lt;parent-death signal&gt;": read by the C constructor, which joins
    /// the container before the runtime starts; its presence selects exec-init mode in Main.</summary>
    public const string Variable = "_INCRUN_SETNS";

    public static int Run() => ProcessSetup.Serve("exec", (spec, sys, sync) => Run(spec.Process, spec.Linux?.Seccomp, sys, sync));

    /// <param name="seccomp">the container's filter: an exec'd process is confined as PID 1 is</param>
    static void Run(Process? process, LinuxSeccomp? seccomp, ISyscalls sys, SyncChannel sync)
    {
        if (process is null || process.Args.Count == 0) throw RuntimeError.Plain("no command specified");
        if (!process.Cwd.StartsWith('/'))
            throw RuntimeError.Plain($"the working directory '{process.Cwd}' is invalid, it needs to be an absolute path");

        if (process.Terminal) Terminal.SetupConsole(sync, process.ConsoleSize, process.User.Uid);
        else Libc.setsid();
        ProcessSetup.ApplyLimits(sys, process);
        ProcessSetup.SwitchUser(sys, process, seccomp);
        if (Libc.chdir(process.Cwd) < 0) throw new RuntimeError("chdir", process.Cwd, Libc.Errno);
        var executable = ExecLookup.Find(process.Args[0], process.Env);
        throw ProcessSetup.Exec(sys, process, executable, seccomp);
    }
}
