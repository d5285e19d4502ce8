using System.Buffers.Binary;
using Inception.Runtime.Errors;
using Inception.Runtime.Init;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Container;

/// <summary>
/// A process started inside a running container (<c>incrun exec</c>, the OCI <c>exec</c> verb). The
/// C part spawns incrun into the container's cgroups; before its runtime starts, it joins every
/// namespace of the container's PID 1 with one <c>setns(pidfd, …)</c> and forks once more (the PID
/// namespace applies to children) with the caller as parent. That process (exec-init,
/// <see cref="ExecInit"/>) receives <paramref name="process"/> over the sync socket, sets up console,
/// limits, user, capabilities and working directory like init does, and execs the command.
/// </summary>
public sealed class ExecProcess : ChildProcess
{
    readonly bool _detached;

    ExecProcess(int pid, SyncChannel sync, bool detached) : base(pid, sync)
    {
        _detached = detached;
    }

    /// <summary>A detached process is left running by Dispose.</summary>
    private protected override bool KillOnDispose => !_detached;

    /// <summary>Starts <paramref name="process"/> in the container whose PID 1 is <paramref name="targetPid"/>
    /// and returns once it runs the command (throws the setup's or exec's error: 126/127 as docker).</summary>
    /// <param name="containerSpec">the container's spec: the namespaces in <c>linux.namespaces</c> are joined</param>
    /// <param name="process">the OCI process to run (args, env, cwd, user, terminal, consoleSize,
    /// capabilities, noNewPrivileges, rlimits, oomScoreAdj), complete: nothing is taken from the container</param>
    /// <param name="stdio">fds of the caller that become the process's 0, 1, 2 (ignored for a terminal)</param>
    /// <param name="cgroup">the container's cgroup (<see cref="Cgroups.ContainerCgroup.OpenJoinHandles"/>),
    /// joined before anything runs; owned by the caller, who may close them once this returns</param>
    /// <param name="detached">false: the process gets SIGKILL if the calling thread exits (as a foreground
    /// container does); true: it lives on until it exits or the container stops, and Dispose leaves it</param>
    public static ExecProcess Start(int targetPid, Spec containerSpec, Process process, StdioFds stdio, CgroupHandles cgroup,
        ITrace trace, bool detached = false)
    {
        int flags = 0;
        foreach (var ns in containerSpec.Linux?.Namespaces ?? []) flags |= ContainerProcess.NamespaceFlag(ns.Type);
        if (process.Args.Count == 0) throw RuntimeError.Plain("no command specified");

        // A pidfd names the process itself: setns through it cannot hit a recycled pid, and joins all
        // namespaces in one atomic call (kernel >= 5.8).
        int pidfd = (int)Libc.syscall(Libc.SYS_pidfd_open, targetPid, 0, 0, 0);
        if (pidfd < 0) throw new RuntimeError("exec: pidfd_open", targetPid.ToString(), Libc.Errno);
        if (trace.Enabled)
            trace.Step("pidfd_open", $"{targetPid}, 0", 0, "A file descriptor for the container's PID 1: setns through it joins that process's namespaces.");

        var (runtimeEnd, childEnd) = SyncChannel.CreatePair();
        int intermediate;
        try
        {
            int[] fds = trace.Enabled
                ? [stdio.Stdin, stdio.Stdout, stdio.Stderr, childEnd.Fd, 2, pidfd]
                : [stdio.Stdin, stdio.Stdout, stdio.Stderr, childEnd.Fd, pidfd];
            var env = new List<string> { $"{ExecInit.Variable}={fds.Length - 1} 0x{flags:x} {(detached ? 0 : 9)}" };
            if (trace.Enabled) env.Add($"{InitProcess.TraceVariable}=1");
            intermediate = NativeSpawn.CloneExec("/proc/self/exe", ["incrun", "exec"], env, fds, 0, 9 /* SIGKILL */, cgroup.V1Tasks, cgroup.V2Dir);
        }
        finally
        {
            childEnd.Dispose();
            Libc.close(pidfd);
        }
        if (intermediate < 0)
        {
            runtimeEnd.Dispose();
            throw new RuntimeError("exec: clone", "incrun", -intermediate);
        }
        if (trace.Enabled)
        {
            trace.Step("clone", "SIGCHLD", 0,
                $"Start incrun again (pid {intermediate}){(cgroup.V1Tasks.Length > 0 || cgroup.V2Dir >= 0 ? ", placed in the container's cgroup before it runs," : "")} to join the container.");
        }

        // The intermediate process exits at once, after reporting its child's pid (or the failure).
        int status = WaitExit(intermediate);
        SyncMessage? m;
        try { m = runtimeEnd.Receive(); }
        catch { runtimeEnd.Dispose(); throw; }
        if (m is not { Kind: SyncKind.Pid, Payload.Length: >= 4 })
        {
            runtimeEnd.Dispose();
            if (trace.Enabled && m?.Error is { } e)
                trace.Step(e.Step, $"pidfd, {ContainerProcess.FormatFlags(flags)}", e.Errno, "Joining the container failed.");
            throw m?.Error is { } failure
                ? failure.Step switch
                {
                    "setns" => new RuntimeError("exec: setns", $"pid {targetPid}, {ContainerProcess.FormatFlags(flags)}", failure.Errno),
                    "clone" => new RuntimeError("exec: clone", "CLONE_PARENT", failure.Errno),
                    _ => failure,
                }
                : RuntimeError.Plain($"exec: the process joining the container exited (status {status}) before it reported");
        }
        int pid = BinaryPrimitives.ReadInt32LittleEndian(m.Value.Payload);
        if (trace.Enabled)
        {
            trace.Step("setns", $"pidfd, {ContainerProcess.FormatFlags(flags)}", 0,
                $"Before its .NET runtime starts (setns into a mount namespace needs a single-threaded process), a C constructor joins the {ContainerProcess.Describe(flags)} namespaces of PID {targetPid} in one call.");
            trace.Step("clone", "CLONE_PARENT|SIGCHLD", 0,
                $"A process's own PID namespace never changes, only its children's: it forks once more with incrun as the parent (pid {pid} on the host, inside the container's PID namespace) and exits.");
        }

        var exec = new ExecProcess(pid, runtimeEnd, detached);
        try
        {
            exec.Configure(process, containerSpec.Linux?.Seccomp);
            return exec;
        }
        catch
        {
            exec.Dispose();
            throw;
        }
    }

    /// <param name="seccomp">the container's filter: the exec'd process gets it too (as docker exec)</param>
    void Configure(Process process, LinuxSeccomp? seccomp)
    {
        Sync.Send(SyncKind.Spec, payload: SpecWire.Encode(new Spec { Process = process, Linux = seccomp is null ? null : new Linux { Seccomp = seccomp } }));
        while (true)
        {
            var m = Sync.Receive();
            switch (m?.Kind)
            {
                case null: return;                                  // close-on-exec: the command runs
                case SyncKind.Pty: PtyMaster = m.Value.Fd; break;
                case SyncKind.Error: Reap(); throw m.Value.Error!;
                default: throw RuntimeError.Plain($"sync: unexpected message {m.Value.Kind} from exec-init");
            }
        }
    }
}
