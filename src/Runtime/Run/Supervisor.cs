using Inception.Runtime.Cgroups;
using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Logs;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.State;
using Inception.Runtime.Terminal;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Run;

/// <summary>How a container's standard streams are wired.</summary>
internal enum StdioMode
{
    /// <summary>The container uses incrun's own stdin/stdout/stderr (foreground --rm: nothing to log).</summary>
    Direct,
    /// <summary>Output goes through incrun to its stdout/stderr and to the container's log (foreground).</summary>
    Echo,
    /// <summary>Output goes to the log only; stdin is a pipe kept open with -i (the detached supervisor).</summary>
    Detached,
}

/// <summary>What one start of a container needs: where to clone it, its cgroup, and the spec (built
/// after init is cloned, so the image is read while init's runtime starts).</summary>
internal sealed record StartPlan(IReadOnlyList<Namespace> Namespaces, LinuxResources? Resources, string CgroupsPath,
    Func<Spec> BuildSpec, bool Tty, bool Interactive, IdMappings? Ids = null)
{
    /// <summary>The plan of a container that already has its config.json (start, restart).</summary>
    public static StartPlan FromSpec(Spec spec, ContainerState state) =>
        new(spec.Linux?.Namespaces ?? [], spec.Linux?.Resources,
            spec.Linux?.CgroupsPath ?? $"/{ResourceParser.DefaultCgroupParent}/{state.Id}",
            () => spec, spec.Process?.Terminal ?? false, state.OpenStdin, IdMappings.Of(spec.Linux));
}

/// <summary>The container's exit status, and a line to print when it did not exit on its own terms.</summary>
public readonly record struct Outcome(int ExitCode, string? Message);

/// <summary>
/// Runs a container from start to exit, as the process that holds its directory lock: the foreground
/// <c>incrun run</c>, or the detached container's supervisor (incrun in an internal mode, its own
/// session, like conmon). It creates the cgroup, clones init into it, relays output to the log,
/// records the state (running, pid, exit status, OOM) and applies the restart policy.
/// </summary>
internal sealed class Supervisor(string stateRoot, ContainerDirs dirs, ITrace trace)
{

    public const string LogFile = "container.log";

    /// <summary>Runs the container, and again as its restart policy says, until it stays stopped.
    /// <paramref name="started"/> is called once, when the first start has exec'd the command.</summary>
    public Outcome RunWithRestarts(StartPlan first, StdioMode mode, Action<int>? started)
    {
        var plan = first;
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            var began = DateTime.UtcNow;
            var outcome = RunOnce(plan, mode, started);
            started = null;
            var state = ContainerStore.Read(dirs.Path)!;
            if (!state.RestartPolicy.ShouldRestart(outcome.ExitCode, state.RestartCount, state.ManuallyStopped)) return outcome;
            // docker's back-off: 100 ms doubling, reset after a run of 10 s or more
            delay = DateTime.UtcNow - began >= TimeSpan.FromSeconds(10) ? TimeSpan.FromMilliseconds(100) : delay;
            ContainerStore.Update(dirs.Path, s => { s.Status = ContainerState.Restarting; });
            for (var until = DateTime.UtcNow + delay; DateTime.UtcNow < until; Thread.Sleep(20))
                if (ContainerStore.Read(dirs.Path)?.ManuallyStopped == true)
                {
                    ContainerStore.Update(dirs.Path, s => { s.Status = ContainerState.Exited; });
                    return outcome;
                }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMinutes(1).Ticks));
            ContainerStore.Update(dirs.Path, s => s.RestartCount++);
            var spec = dirs.ReadSpec() ?? throw RuntimeError.Plain($"config.json of {dirs.Id} is missing");
            plan = StartPlan.FromSpec(spec, state);
        }
    }

    /// <summary>One start of the container, to its exit. Start errors (126, 127, a failed mount) are
    /// recorded in the state and thrown.</summary>
    public Outcome RunOnce(StartPlan plan, StdioMode mode, Action<int>? onStarted)
    {
        var layout = CgroupLayout.Detect();
        var cgroup = new ContainerCgroup(layout, plan.CgroupsPath);
        var fds = new List<int>();           // fds of ours to close at the end
        var relays = new List<Thread>();
        JsonLogWriter? log = null;
        AttachServer? attach = null;
        Spec? spec = null;
        bool started = false;
        try
        {
            cgroup.Create(plan.Resources);
            if (trace.Enabled)
                trace.Step("mkdir", $"\"{plan.CgroupsPath}\" in {(layout.UseV2 ? "the cgroup v2 hierarchy" : $"{layout.V1.Values.Distinct().Count()} cgroup v1 hierarchies")}", 0,
                    "Create the container's own cgroup and write its limits; init is cloned straight into it.");
            if (trace.Enabled && cgroup.DeviceProgramSize > 0)
                trace.Step("bpf", $"BPF_PROG_LOAD (cgroup device program, {cgroup.DeviceProgramSize} instructions) + BPF_PROG_ATTACH to \"{plan.CgroupsPath}\"", 0,
                    "cgroup v2 has no devices controller: an eBPF program built from the device rules decides each open and mknod of a device.");
            var state = ContainerStore.Read(dirs.Path)!;
            if (mode != StdioMode.Direct) log = new JsonLogWriter(dirs.File(LogFile), state.Log);

            int devNull = Open("/dev/null", fds);
            StdioFds stdio;
            int outRead = -1, errRead = -1, childOut = -1, childErr = -1;
            int stdin = devNull, stdinWrite = -1;
            if (plan.Interactive && !plan.Tty)
            {
                if (mode == StdioMode.Detached)
                {
                    // the write end stays open for as long as we run, so the container's stdin does not end
                    (stdin, stdinWrite) = Pipe(fds);
                }
                else stdin = 0;
            }
            if (plan.Tty)
                stdio = new StdioFds(devNull, devNull, devNull);
            else if (mode == StdioMode.Direct)
                stdio = new StdioFds(stdin, 1, 2);
            else
            {
                (outRead, childOut) = Pipe(fds);
                (errRead, childErr) = Pipe(fds);
                stdio = new StdioFds(stdin, childOut, childErr);
            }

            var handles = cgroup.OpenJoinHandles();
            ContainerProcess container;
            try { container = ContainerProcess.Spawn(plan.Namespaces, dirs.Path, stdio, handles, trace, ids: plan.Ids); }
            finally { ContainerCgroup.Close(handles); }
            using var owned = container;
            CloseNow(fds, childOut, childErr, stdin == devNull || stdin == 0 ? -1 : stdin);

            spec = plan.BuildSpec();
            // its network namespace exists since the clone: connect it before the command runs
            if (ContainerStore.Read(dirs.Path) is { Network: { } request } current)
                Network.ContainerNetwork.Attach(stateRoot, dirs.Id, current.Name, container.Pid, request);
            container.Configure(spec);

            // detached: clients of `incrun attach` get the output and feed stdin
            attach = mode == StdioMode.Detached ? new AttachServer(dirs.Path, stdinWrite, plan.Tty ? container.PtyMaster : -1) : null;
            if (outRead >= 0)
            {
                relays.Add(Relay(outRead, "stdout", log, attach, mode == StdioMode.Echo ? 1 : -1));
                relays.Add(Relay(errRead, "stderr", log, attach, mode == StdioMode.Echo ? 2 : -1));
            }
            PtySession? session = null;
            if (plan.Tty && mode != StdioMode.Detached)
                session = PtySession.Begin(container.PtyMaster, plan.Interactive, log is null ? null : d => log.Write("stdout", d));
            else if (plan.Tty)
                relays.Add(Relay(container.PtyMaster, "stdout", log, attach, -1));
            using var __ = session;

            using var relay = mode != StdioMode.Detached ? new SignalRelay(container.Signal, session) : null;
            {
                container.Start();
                started = true;
                ContainerStore.Update(dirs.Path, s =>
                {
                    s.Status = ContainerState.Running;
                    s.Pid = container.Pid;
                    s.StartedAt = DateTime.UtcNow;
                    s.ExitCode = 0;
                    s.OomKilled = false;
                    s.Error = null;
                });
                onStarted?.Invoke(container.Pid);
                if (trace.Enabled)
                    trace.Step("waitpid", container.Pid.ToString(), 0, "Wait for the container's PID 1 to exit; signals sent to incrun are forwarded to it.");
                int status = container.Wait();
                session?.Drain();
                foreach (var t in relays) t.Join(TimeSpan.FromSeconds(2));
                attach?.Dispose();
                bool oom = status == 137 && cgroup.OomKilled();
                RecordExit(status, oom, null);
                if (oom)
                    return new Outcome(status, spec.Linux?.Resources?.Memory?.Limit is { } limit and > 0
                        ? $"container was OOM-killed (memory limit {limit / (1024 * 1024)} MiB)"
                        : "container was OOM-killed");
                return new Outcome(status, null);
            }
        }
        catch (RuntimeError e) when (!started)
        {
            // as docker: a container whose command never ran stays "created", with the error and its code
            ContainerStore.Update(dirs.Path, s =>
            {
                s.Status = s.StartedAt is null ? ContainerState.CreatedStatus : ContainerState.Exited;
                s.Pid = 0;
                s.ExitCode = e.ExitCode;
                s.Error = e.Message;
                s.FinishedAt = DateTime.UtcNow;
            });
            throw;
        }
        finally
        {
            cgroup.Remove();   // after the container's processes are gone (its Dispose reaped init)
            Network.ContainerCleanup.Run(stateRoot, dirs.Path);
            attach?.Dispose();
            foreach (var fd in fds) Libc.close(fd);
            log?.Dispose();
        }
    }

    void RecordExit(int status, bool oom, string? error) =>
        ContainerStore.Update(dirs.Path, s =>
        {
            s.Status = ContainerState.Exited;
            s.Pid = 0;
            s.ExitCode = status;
            s.OomKilled = oom;
            s.Error = error;
            s.FinishedAt = DateTime.UtcNow;
        });

    /// <summary>Copies one output stream to the log (and to incrun's own fd). The fd stays open until
    /// the run ends, so a relay still reading never sees a reused fd number.</summary>
    static Thread Relay(int from, string stream, JsonLogWriter? log, AttachServer? attach, int echo)
    {
        byte kind = stream == "stderr" ? AttachFrame.Stderr : AttachFrame.Stdout;
        var t = new Thread(() => PtySession.Copy(from, echo, d =>
            {
                log?.Write(stream, d);
                attach?.Broadcast(kind, d);
            }))
            { IsBackground = true, Name = $"relay-{stream}" };
        t.Start();
        return t;
    }

    static int Open(string path, List<int> fds)
    {
        int fd = Libc.open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new RuntimeError("open", path, Libc.Errno);
        fds.Add(fd);
        return fd;
    }

    static unsafe (int Read, int Write) Pipe(List<int> fds)
    {
        int* p = stackalloc int[2];
        if (Libc.pipe2(p, Libc.O_CLOEXEC) < 0) throw new RuntimeError("pipe2", null, Libc.Errno);
        fds.Add(p[0]);
        fds.Add(p[1]);
        return (p[0], p[1]);
    }

    static void CloseNow(List<int> fds, params int[] which)
    {
        foreach (var fd in which)
            if (fd >= 0 && fds.Remove(fd)) Libc.close(fd);
    }
}
