using System.Runtime.InteropServices;
using System.Text.Json;
using Inception.Runtime.Cgroups;
using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.Run;
using Inception.Runtime.Terminal;
using Inception.Runtime.Trace;

namespace Inception.Runtime.OciRuntime;

/// <summary>What `exec` takes: the complete process to run (see <see cref="OciLifecycle.ExecProcessFrom"/>).</summary>
public sealed record OciExecOptions(string Id, Process Process, bool Detach = false, string? PidFile = null, string? ConsoleSocket = null);

/// <summary>What `create` and `run` take (runc's flags).</summary>
public sealed record CreateOptions(string Id, string Bundle, string? PidFile = null, string? ConsoleSocket = null,
    int PreserveFds = 0, bool SystemdCgroup = false);

/// <summary>
/// The runc-compatible verbs over the container core: a bundle's config.json is read with the same
/// <see cref="Spec"/> types as `incrun run` writes, and handed to <see cref="ContainerProcess"/>.
/// `create` leaves init waiting at its exec gate (the container's exec.fifo) and exits; `start` opens
/// the FIFO, which lets init exec the command. The container's pid is the command's. Errors are
/// <see cref="RuntimeError"/>s with exit status 1, as runc's.
/// </summary>
public sealed unsafe class OciLifecycle(string root, ITrace trace, Action<string> warn)
{
    public string Root { get; } = root;

    /// <summary>The host's cgroup layout, read once per runtime process (`run` creates and deletes).</summary>
    CgroupLayout Layout => _layout ??= CgroupLayout.Detect();
    CgroupLayout? _layout;

    /// <summary>Reads and checks bundle/config.json.</summary>
    public static Spec LoadSpec(string bundle)
    {
        var path = Path.Combine(bundle, "config.json");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw RuntimeError.Plain($"cannot read {path}: {RuntimeError.IoText(e)}", 1);
        }
        Spec spec;
        try { spec = SpecReader.Read(bytes) ?? throw new JsonException("null document"); }
        catch (JsonException e) { throw RuntimeError.Plain($"{path}: invalid JSON: {e.Message}", 1); }
        if (spec.Process is null) throw RuntimeError.Plain($"{path}: process is missing (an OCI spec needs process.args)", 1);
        if (spec.Process.Args.Count == 0) throw RuntimeError.Plain($"{path}: process.args is empty", 1);
        if (spec.Root is null) throw RuntimeError.Plain($"{path}: root is missing", 1);
        if (!spec.OciVersion.StartsWith("1.", StringComparison.Ordinal))
            throw RuntimeError.Plain($"{path}: unsupported ociVersion \"{spec.OciVersion}\" (1.x is supported)", 1);
        try { LinuxTimeOffset.OffsetsText(spec.Linux); }
        catch (RuntimeError e) { throw RuntimeError.Plain($"{path}: {e.Message}", 1); }
        if (spec.Linux?.Personality is { } persona)
        {
            if (persona.Domain is not ("LINUX" or "LINUX32"))
                throw RuntimeError.Plain($"{path}: linux.personality: unknown domain \"{persona.Domain}\" (LINUX or LINUX32)", 1);
            if (persona.Flags is { Count: > 0 })
                throw RuntimeError.Plain($"{path}: linux.personality.flags ({string.Join(", ", persona.Flags)}) are not supported", 1);
        }
        return spec;
    }

    /// <summary>The container's cgroup relative to the hierarchy roots. runc's semantics: an absolute
    /// cgroupsPath is taken as is; a relative one goes under incrun's parent; with --systemd-cgroup (or
    /// in that form) "slice:prefix:name" maps to slice/…/prefix-name.scope on cgroupfs.</summary>
    public static string CgroupsPath(string? configured, string id, bool systemd)
    {
        string path;
        if (string.IsNullOrEmpty(configured)) path = $"/{ResourceParser.DefaultCgroupParent}/{id}";
        else if (configured.Split(':') is { Length: 3 } parts && (systemd || !configured.StartsWith('/')))
        {
            var slice = parts[0].Length == 0 ? "system.slice" : parts[0];
            var unit = parts[2].EndsWith(".slice", StringComparison.Ordinal) ? parts[2]
                : parts[1].Length == 0 ? parts[2] : $"{parts[1]}-{parts[2]}.scope";
            path = "/" + ExpandSlice(slice) + "/" + unit;
        }
        else if (systemd) throw RuntimeError.Plain($"linux.cgroupsPath \"{configured}\": --systemd-cgroup expects slice:prefix:name", 1);
        else path = configured.StartsWith('/') ? configured : $"/{ResourceParser.DefaultCgroupParent}/{configured}";
        if (path.Split('/').Any(p => p is "." or ".."))
            throw RuntimeError.Plain($"linux.cgroupsPath \"{configured}\" must not contain . or ..", 1);
        return path;
    }

    /// <summary>systemd's slice naming: a-b.slice lives in a.slice/a-b.slice.</summary>
    static string ExpandSlice(string slice)
    {
        if (slice == "-.slice") return "";
        var name = slice.EndsWith(".slice", StringComparison.Ordinal) ? slice[..^6] : slice;
        var parts = name.Split('-');
        var dirs = new List<string>();
        for (int i = 1; i <= parts.Length; i++) dirs.Add(string.Join('-', parts, 0, i) + ".slice");
        return string.Join('/', dirs);
    }

    /// <summary>`create`: everything up to the exec gate. The returned container process is released
    /// (init keeps waiting after this process exits) unless <paramref name="keep"/>.</summary>
    public OciState Create(CreateOptions o)
    {
        Create(o, keep: false, out var state);
        return state;
    }

    ContainerProcess? Create(CreateOptions o, bool keep, out OciState state, bool relayPty = false) => Create(o, keep, out state, out _, relayPty);

    ContainerProcess? Create(CreateOptions o, bool keep, out OciState state, out Spec created, bool relayPty = false)
    {
        var dir = OciContainer.DirOf(Root, o.Id);
        Directory.CreateDirectory(Root);
        if (Libc.mkdirat(Libc.AT_FDCWD, dir, 0x1c9 /* 0711 */) < 0)
        {
            int errno = Libc.Errno;
            throw errno == 17 ? RuntimeError.Plain($"container with id \"{o.Id}\" already exists", 1) : new RuntimeError("mkdir", dir, errno, exitCode: 1);
        }
        ContainerCgroup? cgroup = null;
        ContainerProcess? container = null;
        int gate = -1, devNull = -1;
        try
        {
            var bundle = Path.GetFullPath(o.Bundle);
            var spec = LoadSpec(bundle);
            var process = spec.Process!;
            if (process.Terminal && o.ConsoleSocket is null && !relayPty)
                throw RuntimeError.Plain("cannot allocate a tty without --console-socket when the runtime detaches (process.terminal is true)", 1);
            if (!process.Terminal && o.ConsoleSocket is not null)
                throw RuntimeError.Plain("--console-socket given, but process.terminal is false", 1);
            Warn(spec);

            // fds 3.. of the command: systemd socket activation (LISTEN_FDS) first, then --preserve-fds.
            int listen = int.TryParse(Environment.GetEnvironmentVariable("LISTEN_FDS"), out var l) && l > 0 ? l : 0;
            if (listen > 0) process.Env = [.. process.Env.Where(e => !e.StartsWith("LISTEN_FDS=") && !e.StartsWith("LISTEN_PID=")),
                $"LISTEN_FDS={listen}", "LISTEN_PID=1"];
            var preserved = new int[listen + o.PreserveFds];
            for (int i = 0; i < preserved.Length; i++)
            {
                preserved[i] = 3 + i;
                if (Libc.fcntl(3 + i, Libc.F_GETFD, 0) < 0) throw RuntimeError.Plain($"--preserve-fds: fd {3 + i} is not open", 1);
            }

            var layout = Layout;
            var cgroupsPath = CgroupsPath(spec.Linux?.CgroupsPath, o.Id, o.SystemdCgroup);
            spec.Linux ??= new Linux();
            spec.Linux.CgroupsPath = cgroupsPath;
            // A bundle's "cgroup" mount at /sys/fs/cgroup: what `incrun run` mounts there for this host's layout
            // (bind mounts of the container's cgroup when a user namespace without a cgroup namespace cannot mount cgroupfs).
            var ids = IdMappings.Of(spec.Linux);
            bool bindCgroup = ids is not null && !spec.Linux.Namespaces.Any(n => n.Type == "cgroup");
            spec.Mounts = [.. spec.Mounts.SelectMany(m =>
                m.Type == "cgroup" && m.Destination.TrimEnd('/') == "/sys/fs/cgroup" && !(m.Options ?? []).Any(CgroupLayout.Controllers.Contains)
                    ? SpecGenerator.CgroupMounts(layout, privileged: !(m.Options ?? []).Contains("ro"), bindCgroup ? cgroupsPath : null)
                    : [m])];
            // Before the cgroup exists: `delete` of a container whose create was killed midway finds it from here.
            File.WriteAllBytes(Path.Combine(dir, "config.json"), SpecWriter.Write(spec));
            if (layout.HasAny)
            {
                cgroup = new ContainerCgroup(layout, cgroupsPath);
                cgroup.Create(WithDefaultDevices(spec.Linux.Resources));
            }

            var fifo = Path.Combine(dir, "exec.fifo");
            // 0622 as runc's: init opens it after switching to the container's user; only init can reach it
            // (through its O_PATH fd), the state dir being 0711.
            if (Libc.mknodat(Libc.AT_FDCWD, fifo, 0x1000 /* S_IFIFO */ | 0x192 /* 0622 */, 0) < 0 ||
                Libc.fchmodat(Libc.AT_FDCWD, fifo, 0x192, 0) < 0)
                throw new RuntimeError("mkfifo", fifo, Libc.Errno, exitCode: 1);
            gate = Libc.open(fifo, Libc.O_PATH | Libc.O_CLOEXEC, 0);
            if (gate < 0) throw new RuntimeError("open", fifo, Libc.Errno, exitCode: 1);

            devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            var stdio = process.Terminal ? new StdioFds(devNull, devNull, devNull) : new StdioFds(0, 1, 2);
            var handles = cgroup?.OpenJoinHandles() ?? CgroupHandles.None;
            try
            {
                container = ContainerProcess.Spawn(spec.Linux.Namespaces, bundle, stdio, handles, trace, new OciSpawn(preserved, gate), ids, LinuxTimeOffset.OffsetsText(spec.Linux));
            }
            finally { ContainerCgroup.Close(handles); }

            var record = new OciRecord
            {
                Id = o.Id, Pid = container.Pid, PidStart = OciContainer.ProcessStart(container.Pid) ?? 0, Bundle = bundle,
                Rootfs = Path.GetFullPath(spec.Root!.Path, bundle), Created = DateTime.UtcNow, CgroupsPath = cgroupsPath,
                Annotations = spec.Annotations,
            };
            state = new OciState
            {
                Id = o.Id, Pid = record.Pid, Status = "creating", Bundle = bundle, Rootfs = record.Rootfs, Created = record.Created,
                Owner = "root", Annotations = spec.Annotations,
            };
            var stateJson = state.ToJsonString();
            // prestart (deprecated) and createRuntime: namespaces exist, in the runtime's namespaces.
            HookRunner.Run(spec.Hooks?.Prestart, "prestart", stateJson, 2, 2);
            HookRunner.Run(spec.Hooks?.CreateRuntime, "createRuntime", stateJson, 2, 2);
            container.Configure(spec, stateJson);

            if (o.ConsoleSocket is not null) ConsoleSocket.Send(o.ConsoleSocket, container.PtyMaster);
            OciContainer.WriteRecord(dir, record);
            if (o.PidFile is not null)
                OciContainer.WriteAtomically(Path.GetFullPath(o.PidFile), System.Text.Encoding.ASCII.GetBytes(container.Pid.ToString()));
            state.Status = "created";
            created = spec;
            if (keep) return container;
            container.Release();
            return null;
        }
        catch
        {
            container?.Dispose();       // kills init
            cgroup?.Remove();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            throw;
        }
        finally
        {
            if (gate >= 0) Libc.close(gate);
            if (devNull >= 0) Libc.close(devNull);
        }
    }

    /// <summary>As runc: after the spec's device rules, the devices every container gets (null, zero, full,
    /// random, urandom, tty, ptmx, pts, mknod of any). A copy: config.json keeps the spec's own rules.</summary>
    static LinuxResources? WithDefaultDevices(LinuxResources? r) => r?.Devices is not { } rules ? r : new LinuxResources
    {
        Memory = r.Memory, Cpu = r.Cpu, Pids = r.Pids, BlockIo = r.BlockIo,
        Devices = [.. rules, .. Security.Devices.Rules([], privileged: false).Skip(1)],
    };

    void Warn(Spec spec)
    {
        if (spec.Process?.ApparmorProfile is { Length: > 0 } aa)
            warn(File.Exists("/sys/kernel/security/apparmor/profiles")
                ? $"process.apparmorProfile \"{aa}\" is not applied: incrun has no AppArmor support"
                : $"process.apparmorProfile \"{aa}\" ignored: AppArmor is not enabled on this host");
        if (spec.Process?.SelinuxLabel is { Length: > 0 } se)
            warn(Directory.Exists("/sys/fs/selinux") ? $"process.selinuxLabel \"{se}\" is not applied: incrun has no SELinux support"
                : $"process.selinuxLabel \"{se}\" ignored: SELinux is not enabled on this host");
        if (spec.Linux?.MountLabel is { Length: > 0 } ml && Directory.Exists("/sys/fs/selinux"))
            warn($"linux.mountLabel \"{ml}\" is not applied: incrun has no SELinux support");
    }

    /// <summary>`start`: opens the exec FIFO (init then execs the command), runs poststart hooks.</summary>
    public void Start(string id) => Start(OciContainer.Load(Root, id), null);

    /// <param name="spec">The container's spec when the caller has it (`run`), else read from its state.</param>
    void Start(OciContainer c, Spec? spec)
    {
        switch (c.Status)
        {
            case "created": break;
            case "stopped": throw RuntimeError.Plain($"cannot start a container that has stopped", 1);
            case "creating": throw RuntimeError.Plain($"cannot start container \"{c.Id}\": it is still being created", 1);
            default: throw RuntimeError.Plain($"cannot start an already running container", 1);
        }
        OpenGate(c);
        spec ??= c.ReadSpec();
        if (spec?.Hooks?.Poststart is { Count: > 0 } hooks)
        {
            try { HookRunner.Run(hooks, "poststart", c.State("running").ToJsonString(), 2, 2); }
            catch (RuntimeError e) { warn(e.Message); }
        }
    }

    static void OpenGate(OciContainer c)
    {
        int fd = Libc.open(c.FifoPath, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new RuntimeError("open", c.FifoPath, Libc.Errno, exitCode: 1);
        try
        {
            var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
            while (true)
            {
                int r = Libc.poll(&pfd, 1, 50);
                if (r > 0 && (pfd.Revents & Libc.POLLIN) != 0) break;
                if (r < 0 && Libc.Errno != 4) throw new RuntimeError("poll", c.FifoPath, Libc.Errno, exitCode: 1);
                if (!c.ProcessAlive) throw RuntimeError.Plain($"cannot start container \"{c.Id}\": its init exited", 1);
            }
            byte b;
            if (Libc.read(fd, &b, 1) != 1) throw RuntimeError.Plain($"cannot start container \"{c.Id}\": its init exited", 1);
        }
        finally { Libc.close(fd); }
        File.Delete(c.FifoPath);
    }

    public OciState State(string id) => OciContainer.Load(Root, id).State();

    public List<OciState> List()
    {
        if (!Directory.Exists(Root)) return [];
        return [.. Directory.EnumerateDirectories(Root)
            .Select(Path.GetFileName).Where(n => n is not null && !n.StartsWith('.'))
            .Select(n => OciContainer.TryLoad(Root, n!)).OfType<OciContainer>()
            .Select(c => c.State()).OrderBy(s => s.Created)];
    }

    /// <summary>`kill`: the signal to the container's process, or with <paramref name="all"/> to every
    /// process of its cgroup.</summary>
    public void Kill(string id, int signal, bool all)
    {
        var c = OciContainer.Load(Root, id);
        var status = c.Status;
        if (status is "stopped" or "creating" && !all) throw RuntimeError.Plain("container not running", 1);
        if (all)
        {
            foreach (var pid in c.CgroupPids()) Libc.kill(pid, signal);
            if (status == "paused" && signal == 9) Thaw(c);
            return;
        }
        if (Libc.kill(c.Record!.Pid, signal) < 0) throw new RuntimeError("kill", c.Record.Pid.ToString(), Libc.Errno, exitCode: 1);
        if (status == "paused" && signal == 9) Thaw(c);  // a frozen task acts on SIGKILL only once thawed
    }

    static void Thaw(OciContainer c)
    {
        try { Freezer.Set(CgroupLayout.Detect(), c.Record!.CgroupsPath, frozen: false); } catch (RuntimeError) { }
    }

    /// <summary>`delete`: a stopped (or created) container's cgroup and state go, poststop hooks run;
    /// a running one only with <paramref name="force"/> (its processes are killed first).</summary>
    public void Delete(string id, bool force)
    {
        var c = OciContainer.TryLoad(Root, id);
        if (c is null)
        {
            if (force) return;
            throw RuntimeError.Plain($"container \"{id}\" does not exist", 1);
        }
        var status = c.Status;
        if (status is "running" or "paused" && !force)
            throw RuntimeError.Plain($"cannot delete container \"{id}\" that is not stopped: {status}", 1);
        if (status != "stopped" && c.Record is not null)
        {
            Libc.kill(c.Record.Pid, 9);
            foreach (var pid in c.CgroupPids()) Libc.kill(pid, 9);
            if (status == "paused") Thaw(c);
            if (!c.WaitGone(TimeSpan.FromSeconds(10)))
                throw RuntimeError.Plain($"delete: container \"{id}\" (pid {c.Record.Pid}) did not die after SIGKILL", 1);
        }
        Destroy(c);
    }

    void Destroy(OciContainer c, Spec? spec = null)
    {
        spec ??= c.ReadSpec();
        var layout = Layout;
        var cgroupsPath = c.Record?.CgroupsPath ?? spec?.Linux?.CgroupsPath;
        var hooks = spec?.Hooks?.Poststop is { Count: > 0 } h ? h : null;
        // Without poststop hooks (which run between the two) the state directory goes while the cgroup
        // directories do: both wait in the kernel (cgroup rmdir; unlink on a disk mounted with discard).
        var removeDir = hooks is null && cgroupsPath is not null && layout.HasAny ? new Thread(c.RemoveDir) : null;
        removeDir?.Start();
        if (cgroupsPath is not null && layout.HasAny)
        {
            // Processes the container's init left behind (with a shared PID namespace nothing kills them).
            for (int i = 0; i < 100 && Freezer.Pids(layout, cgroupsPath) is { Count: > 0 } left; i++)
            {
                foreach (var pid in left) Libc.kill(pid, 9);
                Thread.Sleep(5);
            }
            new ContainerCgroup(layout, cgroupsPath).Remove();
        }
        if (hooks is not null)
        {
            try { HookRunner.Run(hooks, "poststop", c.State("stopped").ToJsonString(), 2, 2); }
            catch (RuntimeError e) { warn(e.Message); }
        }
        if (removeDir is null) c.RemoveDir();
        else removeDir.Join();
    }

    /// <summary>`run`: create + start; in the foreground it waits, forwarding signals (and relaying the
    /// terminal when there is no console socket), deletes the container and returns its status.</summary>
    public int Run(CreateOptions o, bool detach)
    {
        if (detach)
        {
            Create(o);
            try { Start(o.Id); }
            catch { TryDelete(o.Id); throw; }
            return 0;
        }
        using var container = Create(o, keep: true, out _, out var spec, relayPty: o.ConsoleSocket is null)!;
        var c = OciContainer.Load(Root, o.Id);
        using var session = container.PtyMaster >= 0 && o.ConsoleSocket is null ? PtySession.Begin(container.PtyMaster, interactive: true) : null;
        var relay = new SignalRelay(container.Signal, session);
        try
        {
            Start(c, spec);
            int status = container.Wait();
            session?.Drain();
            return status;
        }
        finally
        {
            relay.Dispose();
            container.Signal(9);
            container.Wait();
            Destroy(c, spec);
        }
    }

    /// <summary>`exec`: a process started in the running container (runc's exec): from process.json, or
    /// the container's own process with other args and the flags' changes. In the foreground it waits,
    /// forwarding signals (relaying the terminal without a console socket), and returns its status.</summary>
    public int Exec(OciExecOptions o)
    {
        var c = OciContainer.Load(Root, o.Id);
        var status = c.Status;
        if (status != "running") throw RuntimeError.Plain($"cannot exec in a {status} container", 1);
        var spec = c.ReadSpec() ?? throw RuntimeError.Plain($"container \"{o.Id}\" has no config.json in its state", 1);
        var process = o.Process;
        if (process.Args.Count == 0) throw RuntimeError.Plain("exec: no command given (args or --process)", 1);
        if (!process.Cwd.StartsWith('/')) throw RuntimeError.Plain($"exec: cwd \"{process.Cwd}\" must be an absolute path", 1);
        if (process.Terminal && o.ConsoleSocket is null && o.Detach)
            throw RuntimeError.Plain("cannot allocate a tty without --console-socket when the runtime detaches (--tty)", 1);
        if (!process.Terminal && o.ConsoleSocket is not null)
            throw RuntimeError.Plain("--console-socket given, but the process has no terminal (--tty)", 1);

        int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        try
        {
            var stdio = process.Terminal ? new StdioFds(devNull, devNull, devNull) : new StdioFds(0, 1, 2);
            var layout = CgroupLayout.Detect();
            var handles = layout.HasAny ? new ContainerCgroup(layout, c.Record!.CgroupsPath).OpenJoinHandles() : CgroupHandles.None;
            ExecProcess exec;
            try { exec = ExecProcess.Start(c.Record!.Pid, spec, process, stdio, handles, trace, o.Detach); }
            finally { ContainerCgroup.Close(handles); }
            using var _ = exec;
            if (o.ConsoleSocket is not null) ConsoleSocket.Send(o.ConsoleSocket, exec.PtyMaster);
            if (o.PidFile is not null)
                OciContainer.WriteAtomically(Path.GetFullPath(o.PidFile), System.Text.Encoding.ASCII.GetBytes(exec.Pid.ToString()));
            if (o.Detach) return 0;
            using var session = exec.PtyMaster >= 0 && o.ConsoleSocket is null ? PtySession.Begin(exec.PtyMaster, interactive: true) : null;
            using var relay = new SignalRelay(exec.Signal, session);
            int code = exec.Wait();
            session?.Drain();
            return code;
        }
        finally { Libc.close(devNull); }
    }

    /// <summary>The process `exec` runs when no process.json is given: the container's own (user,
    /// capabilities, env, rlimits, …) with <paramref name="args"/> and runc's flags applied.</summary>
    public Process ExecProcessFrom(string id, IReadOnlyList<string> args, bool tty, string? cwd, IReadOnlyList<string> env,
        string? user, IReadOnlyList<string> addCaps, bool noNewPrivs)
    {
        var spec = OciContainer.Load(Root, id).ReadSpec()
            ?? throw RuntimeError.Plain($"container \"{id}\" has no config.json in its state", 1);
        var p = spec.Process ?? new Process();
        var process = new Process
        {
            Args = [.. args], Env = [.. p.Env], Cwd = cwd ?? p.Cwd, User = p.User, Terminal = tty,
            Capabilities = p.Capabilities, NoNewPrivileges = p.NoNewPrivileges || noNewPrivs, Rlimits = p.Rlimits,
            OomScoreAdj = p.OomScoreAdj,
        };
        foreach (var e in env)
        {
            var name = e.Split('=', 2)[0];
            process.Env = [.. process.Env.Where(x => x.Split('=', 2)[0] != name), e];
        }
        if (user is not null)
        {
            var parts = user.Split(':', 2);
            if (!uint.TryParse(parts[0], out var uid) || (parts.Length == 2 && !uint.TryParse(parts[1], out _)))
                throw RuntimeError.Plain($"--user \"{user}\": expected UID[:GID] (numbers)", 1);
            process.User = new User { Uid = uid, Gid = parts.Length == 2 ? uint.Parse(parts[1]) : 0 };
        }
        if (addCaps.Count > 0)
        {
            var caps = process.Capabilities ?? new LinuxCapabilities();
            List<string> Add(List<string>? set) => [.. (set ?? []).Union(addCaps)];
            process.Capabilities = new LinuxCapabilities
            {
                Bounding = Add(caps.Bounding), Effective = Add(caps.Effective), Permitted = Add(caps.Permitted),
                Inheritable = caps.Inheritable, Ambient = caps.Ambient,
            };
        }
        return process;
    }

    public static Process ParseProcess(byte[] json, string path)
    {
        try { return SpecReader.ReadProcess(json) ?? throw new JsonException("null document"); }
        catch (JsonException e) { throw RuntimeError.Plain($"{path}: invalid JSON: {e.Message}", 1); }
    }

    void TryDelete(string id)
    {
        try { Delete(id, force: true); } catch (RuntimeError) { }
    }

    public void Pause(string id) => SetFrozen(id, true);
    public void Resume(string id) => SetFrozen(id, false);

    void SetFrozen(string id, bool frozen)
    {
        var c = OciContainer.Load(Root, id);
        var status = c.Status;
        if (frozen && status != "running") throw RuntimeError.Plain($"cannot pause container \"{id}\": it is {status}", 1);
        if (!frozen && status != "paused") throw RuntimeError.Plain($"cannot resume container \"{id}\": it is not paused", 1);
        Freezer.Set(CgroupLayout.Detect(), c.Record!.CgroupsPath, frozen);
    }

    public List<int> Pids(string id)
    {
        var c = OciContainer.Load(Root, id);
        if (c.Record is null) return [];
        return c.CgroupPids();
    }

    /// <summary>`update --resources`: new linux.resources written to the container's cgroup.</summary>
    public void Update(string id, LinuxResources resources)
    {
        var c = OciContainer.Load(Root, id);
        if (c.Status == "stopped") throw RuntimeError.Plain($"cannot update container \"{id}\": it is stopped", 1);
        new ContainerCgroup(CgroupLayout.Detect(), c.Record!.CgroupsPath).Update(resources);
    }

    public static LinuxResources ParseResources(byte[] json)
    {
        try { return SpecReader.ReadResources(json) ?? new LinuxResources(); }
        catch (JsonException e) { throw RuntimeError.Plain($"--resources: invalid JSON: {e.Message}", 1); }
    }

    public CgroupSample Stats(string id)
    {
        var c = OciContainer.Load(Root, id);
        if (c.Status == "stopped") throw RuntimeError.Plain($"container \"{id}\" is stopped", 1);
        return CgroupStats.Read(CgroupLayout.Detect(), c.Record!.CgroupsPath);
    }
}
