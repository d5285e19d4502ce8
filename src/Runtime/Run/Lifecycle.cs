using Inception.Runtime.Cgroups;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.State;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Run;

/// <summary>
/// What the CLI does to existing containers: start, stop, kill, rm, wait, pause, rename, top. Each works
/// from the container's directory: the directory lock says whether a supervisor is alive, state.json has
/// the PID and status. Errors read as docker's, exit code 1 where docker's CLI returns 1.
/// </summary>
internal sealed class Lifecycle(string stateRoot)
{
    const int SIGKILL = 9;

    public ContainerEntry Find(string key)
    {
        ContainerDirs.ReapStale(stateRoot);
        return ContainerStore.Find(stateRoot, key);
    }

    /// <summary>Starts a created or stopped container under a new supervisor; a running one is left as
    /// it is (docker prints its name and succeeds).</summary>
    public void Start(ContainerEntry c)
    {
        var dirs = ContainerDirs.TryLock(c.Dir);
        if (dirs is null) return;
        try
        {
            ContainerStore.Update(c.Dir, s => { s.ManuallyStopped = false; s.Status = ContainerState.Starting; });
            SupervisorProcess.Launch(dirs);
        }
        finally { dirs.Dispose(); }
    }

    /// <summary><c>start -a</c>: runs the stopped container in this process, attached to the terminal.</summary>
    public Outcome StartAttached(ContainerEntry c, ITrace trace)
    {
        var dirs = ContainerDirs.TryLock(c.Dir) ?? throw RuntimeError.Plain($"container {c.State.Name} is already running; use incrun logs -f", 1);
        try
        {
            var state = ContainerStore.Update(c.Dir, s => { s.ManuallyStopped = false; s.Status = ContainerState.Starting; });
            var spec = dirs.ReadSpec() ?? throw RuntimeError.Plain($"config.json of container {c.Id} is missing or invalid");
            return new Supervisor(stateRoot, dirs, trace).RunWithRestarts(StartPlan.FromSpec(spec, state), StdioMode.Echo, null);
        }
        finally
        {
            if (ContainerStore.Read(c.Dir)?.AutoRemove == true) { ContainerDirs.CleanupOutside(stateRoot, c.Dir); dirs.Delete(); }
            else dirs.Dispose();
        }
    }

    /// <summary>docker stop: the stop signal, then SIGKILL after <paramref name="timeout"/>; returns when
    /// the supervisor has recorded the exit. The restart policy does not bring it back.</summary>
    public void Stop(ContainerEntry c, TimeSpan? timeout)
    {
        if (!c.Supervised) return;
        var state = ContainerStore.Update(c.Dir, s => s.ManuallyStopped = true);
        var grace = timeout ?? TimeSpan.FromSeconds(state.StopTimeout ?? 10);
        if (state.Pid > 0)
        {
            Libc.kill(state.Pid, Signals.Parse(state.StopSignal));
            if (state.Status == ContainerState.Paused) Thaw(c);
        }
        if (ContainerDirs.WaitUnlocked(c.Dir, grace)) return;
        if (ContainerStore.Read(c.Dir)?.Pid is > 0 and var pid) Libc.kill(pid, SIGKILL);
        if (!ContainerDirs.WaitUnlocked(c.Dir, TimeSpan.FromSeconds(30)))
            throw RuntimeError.Plain($"cannot stop container: {c.State.Name}: it did not exit after SIGKILL", 1);
    }

    /// <summary>docker kill: a signal to the container's PID 1 (SIGKILL by default).</summary>
    public void Kill(ContainerEntry c, int signal)
    {
        var state = c.State;
        if (!c.Supervised || state.Pid <= 0 || !(state.Status is ContainerState.Running or ContainerState.Paused))
            throw RuntimeError.Plain($"cannot kill container: {state.Name}: container {c.Id} is not running", 1);
        ContainerStore.Update(c.Dir, s => s.ManuallyStopped = true);
        if (Libc.kill(state.Pid, signal) < 0) throw new RuntimeError("kill", state.Pid.ToString(), Libc.Errno, exitCode: 1);
        if (state.Status == ContainerState.Paused && signal == SIGKILL) Thaw(c);
        if (signal == SIGKILL) ContainerDirs.WaitUnlocked(c.Dir, TimeSpan.FromSeconds(10));
    }

    /// <summary>docker rm [-f]: a running container only with force (killed first).</summary>
    public void Remove(ContainerEntry c, bool force)
    {
        if (c.Supervised)
        {
            if (!force)
                throw RuntimeError.Plain($"cannot remove container \"/{c.State.Name}\": container is running: stop the container before removing or force remove", 1);
            ContainerStore.Update(c.Dir, s => s.ManuallyStopped = true);
            if (ContainerStore.Read(c.Dir)?.Pid is > 0 and var pid)
            {
                Libc.kill(pid, SIGKILL);
                if (c.State.Status == ContainerState.Paused) Thaw(c);
            }
            ContainerDirs.WaitUnlocked(c.Dir, TimeSpan.FromSeconds(30));
        }
        var dirs = ContainerDirs.TryLock(c.Dir);
        if (dirs is null)
        {
            if (!Directory.Exists(c.Dir)) return;   // --rm removed it meanwhile
            throw RuntimeError.Plain($"cannot remove container \"/{c.State.Name}\": it was started again meanwhile", 1);
        }
        ContainerDirs.CleanupOutside(stateRoot, c.Dir);
        dirs.Delete();
    }

    /// <summary>docker wait: blocks until the container has stopped; its exit code.</summary>
    public int Wait(ContainerEntry c)
    {
        ContainerDirs.WaitUnlocked(c.Dir, Timeout.InfiniteTimeSpan);
        return ContainerStore.Read(c.Dir)?.ExitCode ?? 0;
    }

    public void Pause(ContainerEntry c)
    {
        RequireRunning(c);
        if (c.State.Status == ContainerState.Paused) throw RuntimeError.Plain($"container {c.Id} is already paused", 1);
        Cgroup(c).Freeze(true);
        ContainerStore.Update(c.Dir, s => s.Status = ContainerState.Paused);
    }

    public void Unpause(ContainerEntry c)
    {
        RequireRunning(c);
        if (c.State.Status != ContainerState.Paused) throw RuntimeError.Plain($"container {c.Id} is not paused", 1);
        Thaw(c);
    }

    void Thaw(ContainerEntry c)
    {
        Cgroup(c).Freeze(false);
        ContainerStore.Update(c.Dir, s => { if (s.Status == ContainerState.Paused) s.Status = ContainerState.Running; });
    }

    public void Rename(ContainerEntry c, string newName)
    {
        using var _ = ContainerStore.LockNames(stateRoot);
        if (newName.TrimStart('/') == c.State.Name) throw RuntimeError.Plain($"Renaming a container with the same name as its current name", 1);
        var name = ContainerStore.ChooseName(stateRoot, newName, c.Id);
        ContainerStore.Update(c.Dir, s => s.Name = name);
    }

    /// <summary>The container's processes (pids on the host), from its cgroup, else PID 1 and its descendants.</summary>
    public List<int> Processes(ContainerEntry c)
    {
        RequireRunning(c);
        var pids = Cgroup(c).Pids();
        if (pids.Count > 0) return pids;
        var result = new List<int> { c.State.Pid };
        var children = new Dictionary<int, List<int>>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                var ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                (children.TryGetValue(ppid, out var l) ? l : children[ppid] = []).Add(pid);
            }
            catch (IOException) { }
        }
        for (int i = 0; i < result.Count; i++)
            if (children.TryGetValue(result[i], out var kids)) result.AddRange(kids);
        return result;
    }

    void RequireRunning(ContainerEntry c)
    {
        if (!c.Supervised || !(c.State.Status is ContainerState.Running or ContainerState.Paused) || c.State.Pid <= 0)
            throw RuntimeError.Plain($"container {c.Id} is not running", 1);
    }

    static ContainerCgroup Cgroup(ContainerEntry c) => new(CgroupLayout.Detect(), c.CgroupsPath);
}
