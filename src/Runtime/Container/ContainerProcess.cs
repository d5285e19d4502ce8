using Inception.Runtime.Errors;
using Inception.Runtime.Init;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Container;

/// <summary>The standard streams the container's process gets (fds of the runtime's process).</summary>
public readonly record struct StdioFds(int Stdin, int Stdout, int Stderr);

/// <summary>Where the container's init is placed at clone time: cgroup v1 "tasks" files, or a cgroup v2
/// directory (fds, owned by the caller).</summary>
public readonly record struct CgroupHandles(int[] V1Tasks, int V2Dir)
{
    public static readonly CgroupHandles None = new([], -1);
}

/// <summary>How the OCI front end (runc's contract) spawns init, beyond what docker-like runs need:
/// no parent-death signal (the engine's shim, a subreaper, reaps init after <c>create</c> exits), fds
/// kept open into the command as its fds 3.., and an exec gate instead of the Go message: an O_PATH fd
/// of the container's exec FIFO, which init opens for writing after Ready and which blocks until
/// <c>start</c> opens it for reading.</summary>
public sealed record OciSpawn(int[] PreservedFds, int ExecGate);

/// <summary>The id maps of a container's new user namespace (OCI linux.uidMappings, gidMappings).</summary>
public sealed record IdMappings(IReadOnlyList<LinuxIdMapping> Uid, IReadOnlyList<LinuxIdMapping> Gid)
{
    /// <summary>The spec's maps, or null when it has no new user namespace. Throws when it has one without maps.</summary>
    public static IdMappings? Of(Linux? linux)
    {
        if (linux?.Creates("user") != true) return null;
        if (linux.UidMappings is not { Count: > 0 } uid || linux.GidMappings is not { Count: > 0 } gid)
            throw RuntimeError.Plain("a new user namespace needs linux.uidMappings and linux.gidMappings");
        return new IdMappings(uid, gid);
    }
}

/// <summary>
/// The container core, one path for every front end: <see cref="Spawn"/> clones init into new
/// namespaces, <see cref="Configure"/> hands it the spec and waits until the root filesystem is ready,
/// <see cref="Start"/> lets it exec the user's command, <see cref="Wait"/> returns its status. The
/// docker-like <c>run</c> and the OCI verbs both drive this type. Spawning before the spec is complete
/// lets the caller resolve the image and write files while init's runtime starts up.
/// </summary>
public sealed class ContainerProcess : ChildProcess
{
    public const int CLONE_NEWNS = 0x20000, CLONE_NEWCGROUP = 0x02000000, CLONE_NEWUTS = 0x04000000,
        CLONE_NEWIPC = 0x08000000, CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000,
        CLONE_NEWTIME = 0x80;

    ContainerProcess(int pid, SyncChannel sync, int flags, string bundle, IdMappings? ids, ITrace trace, int exe) : base(pid, sync)
    {
        _trace = trace;
        _flags = flags;
        _bundle = bundle;
        _ids = ids;
        _exe = exe;
    }

    readonly int _flags;
    readonly string _bundle;
    readonly IdMappings? _ids;
    readonly ITrace _trace;
    int _exe;   // the read-only binary init runs from: closed once init has the spec (see ReleaseExe)

    /// <summary>Spawn + Configure in one step.</summary>
    public static ContainerProcess Create(Spec spec, string bundle, StdioFds stdio, ITrace trace)
    {
        var container = Spawn(spec.Linux?.Namespaces ?? [], bundle, stdio, CgroupHandles.None, trace, ids: IdMappings.Of(spec.Linux), timeOffsets: LinuxTimeOffset.OffsetsText(spec.Linux));
        try
        {
            container.Configure(spec);
            return container;
        }
        catch
        {
            container.Dispose();
            throw;
        }
    }

    /// <summary>Clones init into the given namespaces and cgroup; it waits for <see cref="Configure"/>.</summary>
    /// <param name="ids">the maps of a new user namespace (required when <paramref name="namespaces"/> has one)</param>
    public static ContainerProcess Spawn(IReadOnlyList<Namespace> namespaces, string bundle, StdioFds stdio, CgroupHandles cgroup, ITrace trace,
        OciSpawn? oci = null, IdMappings? ids = null, string? timeOffsets = null)
    {
        int flags = CloneFlags(namespaces);
        if ((flags & CLONE_NEWUSER) != 0)
        {
            if (ids is null) throw RuntimeError.Plain("a new user namespace needs linux.uidMappings and linux.gidMappings");
            // the child is in its own user namespace before it could join one owned by the host's
            if (namespaces.FirstOrDefault(n => n.Path is not null) is { } joined)
                throw RuntimeError.Plain($"joining the {joined.Type} namespace {joined.Path} from a new user namespace is not supported");
        }
        else ids = null;
        var (runtimeEnd, initEnd) = SyncChannel.CreatePair();
        var env = new List<string> { $"{InitProcess.BundleVariable}={bundle}" };
        // init's fds: stdio, the preserved fds (3..), the sync socket, the exec gate, the trace.
        var fds = new List<int> { stdio.Stdin, stdio.Stdout, stdio.Stderr };
        if (oci is not null)
        {
            env.Add($"{InitProcess.OciVariable}={oci.PreservedFds.Length}");
            fds.AddRange(oci.PreservedFds);
        }
        fds.Add(initEnd.Fd);
        if (oci is not null) fds.Add(oci.ExecGate);
        if (trace.Enabled)
        {
            env.Add($"{InitProcess.TraceVariable}=1");
            fds.Add(2); // init narrates on the runtime's stderr
        }
        // Namespaces named by path (OCI linux.namespaces[].path, and docker's --network container:NAME):
        // the child setns()es into them before it execs.
        int[] join; int pidNs;
        try { (join, pidNs) = OpenJoined(namespaces); }
        catch { runtimeEnd.Dispose(); initEnd.Dispose(); throw; }
        int pid, exe = -1;
        try
        {
            // Init runs from a copy of the binary that cannot be written to (CVE-2019-5736).
            (exe, var how) = Security.ReadOnlyBinary.Open();
            if (trace.Enabled) TraceExe(trace, how);
            pid = NativeSpawn.CloneExec("/proc/self/exe", ["incrun", "init"], env, [.. fds], flags, oci is null ? 9 /* SIGKILL */ : 0,
                cgroup.V1Tasks, cgroup.V2Dir, exe, joinNs: join, pidNs: pidNs,
                uidMap: ids is null ? null : LinuxIdMapping.MapText(ids.Uid), gidMap: ids is null ? null : LinuxIdMapping.MapText(ids.Gid),
                timeOffsets: timeOffsets);
        }
        catch { if (exe >= 0) Libc.close(exe); initEnd.Dispose(); runtimeEnd.Dispose(); throw; }
        finally
        {
            foreach (var fd in join) Libc.close(fd);
            if (pidNs >= 0) Libc.close(pidNs);
        }
        initEnd.Dispose();
        if (trace.Enabled)
            trace.Step("clone", $"{FormatFlags(flags)}|SIGCHLD", pid < 0 ? -pid : 0,
                $"Create the container's first process in new namespaces ({Describe(flags)}); it re-executes incrun as the container's init (pid {pid} on the host, PID 1 inside).");
        if (trace.Enabled && ids is not null && pid > 0)
            trace.Step("write", $"/proc/{pid}/uid_map \"{LinuxIdMapping.MapText(ids.Uid).TrimEnd().Replace("\n", "; ")}\", gid_map \"{LinuxIdMapping.MapText(ids.Gid).TrimEnd().Replace("\n", "; ")}\"", 0,
                "Map the container's ids to an unprivileged range of host ids; the child then becomes the namespace's root (setresuid(0)): all capabilities inside its namespaces, none on the host.");
        if (pid < 0)
        {
            Libc.close(exe);
            runtimeEnd.Dispose();
            throw new RuntimeError("clone", FormatFlags(flags), -pid);
        }
        return new ContainerProcess(pid, runtimeEnd, flags, bundle, ids, trace, exe);
    }

    static void TraceExe(ITrace trace, string how) =>
        trace.Step(how == "read-only mount" ? "open_tree" : "memfd_create",
            how == "read-only mount" ? "\"/proc/self/exe\", OPEN_TREE_CLONE; mount_setattr(MOUNT_ATTR_RDONLY)" : "\"incrun\", MFD_ALLOW_SEALING; F_SEAL_WRITE",
            0, $"Init will run from a {how} of incrun's binary: a process in the container that reaches it through /proc/PID/exe cannot overwrite the host's binary (CVE-2019-5736).");

    /// <summary>Sends init the spec and waits until it has built the root filesystem (throws init's error).</summary>
    /// <param name="hookState">The OCI state JSON given to the createContainer and startContainer hooks init runs.</param>
    public void Configure(Spec spec, string? hookState = null)
    {
        if (CloneFlags(spec.Linux?.Namespaces ?? []) != _flags)
            throw RuntimeError.Plain("the spec's namespaces differ from those the container was spawned with");
        if (hookState is not null) Sync.Send(SyncKind.HookState, payload: System.Text.Encoding.UTF8.GetBytes(hookState));
        if (_ids is not null && spec.Annotations?.GetValueOrDefault(IncrunAnnotations.OverlayLower) is { } lower)
        {
            int root = IdmappedRoot(spec, lower);
            try { Sync.Send(SyncKind.RootMount, passFd: root); }
            finally { Libc.close(root); }
        }
        Sync.Send(SyncKind.Spec, payload: SpecWire.Encode(spec));
        ReleaseExe();   // while init builds the root filesystem
        WaitForReady();
    }

    /// <summary>The overlay root of a container with a user namespace, as a detached mount: its layers are
    /// seen through idmapped mounts of the container's namespace, and the upper directory (where the
    /// container's writes land) belongs to the container's root on the host.</summary>
    int IdmappedRoot(Spec spec, string lower)
    {
        var a = spec.Annotations!;
        string upper = a[IncrunAnnotations.OverlayUpper], work = a[IncrunAnnotations.OverlayWork];
        uint uid = LinuxIdMapping.ToHost(_ids!.Uid, 0) ?? throw RuntimeError.Plain("linux.uidMappings does not map the container's uid 0");
        uint gid = LinuxIdMapping.ToHost(_ids.Gid, 0) ?? throw RuntimeError.Plain("linux.gidMappings does not map the container's gid 0");
        if (Libc.fchownat(Libc.AT_FDCWD, upper, uid, gid, 0) < 0) throw new RuntimeError("chown", upper, Libc.Errno);
        var userns = $"/proc/{Pid}/ns/user";
        int nsFd = Libc.open(userns, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (nsFd < 0) throw new RuntimeError("open", userns, Libc.Errno);
        try
        {
            var target = Path.GetFullPath(spec.Root?.Path ?? "rootfs", _bundle);
            var layers = lower.Split(':');
            if (Environment.GetEnvironmentVariable("INCRUN_IDMAP") != "copy")
            {
                try
                {
                    int fd = NativeSpawn.IdmappedOverlay(layers, target, IncrunAnnotations.OverlayOptions(lower, upper, work), nsFd);
                    if (_trace.Enabled)
                        _trace.Step("mount_setattr", $"MOUNT_ATTR_IDMAP ({userns}) on {layers.Length} layer(s); mount overlay; open_tree OPEN_TREE_CLONE", 0,
                            $"In a throw-away mount namespace, see each image layer through an idmapped mount (on-disk uid 0 is host uid {uid}, the container's root), put the overlay on top and pass it to init as a detached mount; the upper directory now belongs to {uid}:{gid}.");
                    return fd;
                }
                // no idmapped mounts here (kernel before 5.12, or a filesystem without them): shifted copies
                catch (RuntimeError e) when (e.Step.StartsWith("mount_setattr", StringComparison.Ordinal) && e.Errno is 1 or 22 or 38 or 95) { }
            }
            var copies = Rootfs.ShiftedLayers.Get(layers, _ids);
            int copyFd = NativeSpawn.IdmappedOverlay(copies, target, IncrunAnnotations.OverlayOptions(string.Join(':', copies), upper, work), -1);
            if (_trace.Enabled)
                _trace.Step("mount", $"overlay of {copies.Count} shifted layer cop{(copies.Count == 1 ? "y" : "ies")}; open_tree OPEN_TREE_CLONE", 0,
                    $"Without idmapped mounts, each layer is used through a copy made once per id map, its owners shifted into the container's block (on-disk 0 is host uid {uid}).");
            return copyFd;
        }
        finally { Libc.close(nsFd); }
    }


    /// <summary>Closes the fd of the read-only binary init was exec'd from. The last close of a detached
    /// mount waits for an RCU grace period (0.1–3 ms), so it happens where this process would wait for
    /// init anyway (init's own reference keeps the file read-only), not on the way to the spawn.</summary>
    void ReleaseExe()
    {
        if (_exe >= 0) Libc.close(_exe);
        _exe = -1;
    }

    private protected override void Disposing() => ReleaseExe();

    void WaitForReady()
    {
        while (true)
        {
            var m = Sync.Receive();
            switch (m?.Kind)
            {
                case SyncKind.Pty: PtyMaster = m.Value.Fd; break;
                case SyncKind.Ready: return;
                case SyncKind.Error: Reap(); throw m.Value.Error!;
                case null: throw InitDied();
                default: throw RuntimeError.Plain($"sync: unexpected message {m.Value.Kind} from init");
            }
        }
    }

    /// <summary>Releases init to exec the command; throws the exec error (126/127) if that fails.</summary>
    public void Start()
    {
        Sync.Send(SyncKind.Go);
        var m = Sync.Receive();
        if (m is null) return;                      // close-on-exec: the command is running
        if (m.Value.Kind == SyncKind.Error) { Reap(); throw m.Value.Error!; }
        throw RuntimeError.Plain($"sync: unexpected message {m.Value.Kind} from init");
    }

    RuntimeError InitDied()
    {
        int code = Reap();
        return RuntimeError.Plain($"container init exited before it was ready (status {code})");
    }

    bool _released;
    private protected override bool KillOnDispose => !_released;

    /// <summary>Lets go of init without killing it (the OCI <c>create</c>: init waits at its exec gate
    /// after this process exits, and the engine's shim reaps it).</summary>
    public void Release()
    {
        _released = true;
        Dispose();
    }

    /// <summary>fds of the existing namespaces the spec names by path (OCI linux.namespaces[].path): the C
    /// part setns()es the child into them; a PID namespace is entered at clone time.</summary>
    static (int[] Join, int PidNs) OpenJoined(IReadOnlyList<Namespace> namespaces)
    {
        var join = new List<int>();
        int pidNs = -1;
        foreach (var ns in namespaces)
        {
            if (ns.Path is null) continue;
            int fd = Libc.open(ns.Path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                int errno = Libc.Errno;
                foreach (var f in join) Libc.close(f);
                if (pidNs >= 0) Libc.close(pidNs);
                throw new RuntimeError($"open {ns.Type} namespace", ns.Path, errno);
            }
            if (ns.Type == "pid") pidNs = fd; else join.Add(fd);
        }
        return ([.. join], pidNs);
    }

    static int CloneFlags(IReadOnlyList<Namespace> namespaces)
    {
        int flags = 0;
        foreach (var ns in namespaces)
        {
            if (ns.Path is not null)
            {
                if (ns.Type is "mount" or "user")
                    throw RuntimeError.Plain($"joining an existing {ns.Type} namespace ({ns.Path}) is not supported");
                if (ns.Type is not ("pid" or "uts" or "ipc" or "network" or "cgroup" or "time"))
                    throw RuntimeError.Plain($"unknown namespace type \"{ns.Type}\"");
                continue;   // joined by the C part (setns), not created
            }
            flags |= NamespaceFlag(ns.Type);
        }
        if ((flags & CLONE_NEWNS) == 0) throw RuntimeError.Plain("a mount namespace is required");
        return flags;
    }

    /// <summary>The CLONE_NEW* flag of an OCI namespace type.</summary>
    internal static int NamespaceFlag(string type) => type switch
    {
        "pid" => CLONE_NEWPID, "mount" => CLONE_NEWNS, "uts" => CLONE_NEWUTS, "ipc" => CLONE_NEWIPC,
        "network" => CLONE_NEWNET, "cgroup" => CLONE_NEWCGROUP, "user" => CLONE_NEWUSER, "time" => CLONE_NEWTIME,
        _ => throw RuntimeError.Plain($"unknown namespace type \"{type}\""),
    };

    static readonly (int Flag, string Name, string Word)[] Names =
    [
        (CLONE_NEWPID, "CLONE_NEWPID", "PID"), (CLONE_NEWNS, "CLONE_NEWNS", "mount"), (CLONE_NEWUTS, "CLONE_NEWUTS", "UTS"),
        (CLONE_NEWIPC, "CLONE_NEWIPC", "IPC"), (CLONE_NEWNET, "CLONE_NEWNET", "network"), (CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "cgroup"),
        (CLONE_NEWUSER, "CLONE_NEWUSER", "user"), (CLONE_NEWTIME, "CLONE_NEWTIME", "time"),
    ];

    internal static string FormatFlags(int flags) => string.Join('|', Names.Where(n => (flags & n.Flag) != 0).Select(n => n.Name));
    internal static string Describe(int flags) => string.Join(", ", Names.Where(n => (flags & n.Flag) != 0).Select(n => n.Word));
}
