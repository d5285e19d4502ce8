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
        CLONE_NEWIPC = 0x08000000, CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000;

    ContainerProcess(int pid, SyncChannel sync, int flags) : base(pid, sync)
    {
        _flags = flags;
    }

    readonly int _flags;

    /// <summary>Spawn + Configure in one step.</summary>
    public static ContainerProcess Create(Spec spec, string bundle, StdioFds stdio, ITrace trace)
    {
        var container = Spawn(spec.Linux?.Namespaces ?? [], bundle, stdio, CgroupHandles.None, trace);
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
    public static ContainerProcess Spawn(IReadOnlyList<Namespace> namespaces, string bundle, StdioFds stdio, CgroupHandles cgroup, ITrace trace)
    {
        int flags = CloneFlags(namespaces);
        var (runtimeEnd, initEnd) = SyncChannel.CreatePair();
        var env = new List<string> { $"{InitProcess.BundleVariable}={bundle}" };
        int traceFd = -1;
        if (trace.Enabled)
        {
            env.Add($"{InitProcess.TraceVariable}=1");
            traceFd = 2; // init narrates on the runtime's stderr
        }
        int[] fds = traceFd >= 0
            ? [stdio.Stdin, stdio.Stdout, stdio.Stderr, initEnd.Fd, traceFd]
            : [stdio.Stdin, stdio.Stdout, stdio.Stderr, initEnd.Fd];
        // --network container:NAME: the child enters that network namespace before it execs.
        int netnsFd = -1;
        if (namespaces.FirstOrDefault(n => n.Type == "network" && n.Path is not null)?.Path is { } netns)
        {
            netnsFd = Libc.open(netns, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (netnsFd < 0) { int e = Libc.Errno; runtimeEnd.Dispose(); initEnd.Dispose(); throw new RuntimeError("open", netns, e); }
        }
        // Init runs from a copy of the binary that cannot be written to (CVE-2019-5736).
        int exe;
        try { (exe, var how) = Security.ReadOnlyBinary.Open(); if (trace.Enabled) TraceExe(trace, how); }
        catch { initEnd.Dispose(); runtimeEnd.Dispose(); if (netnsFd >= 0) Libc.close(netnsFd); throw; }
        int pid = NativeSpawn.CloneExec("/proc/self/exe", ["incrun", "init"], env, fds, flags, 9 /* SIGKILL */, cgroup.V1Tasks, cgroup.V2Dir, exe, netnsFd);
        Security.ReadOnlyBinary.Release(exe);
        if (netnsFd >= 0) Libc.close(netnsFd);
        initEnd.Dispose();
        if (trace.Enabled)
            trace.Step("clone", $"{FormatFlags(flags)}|SIGCHLD", pid < 0 ? -pid : 0,
                $"Create the container's first process in new namespaces ({Describe(flags)}); it re-executes incrun as the container's init (pid {pid} on the host, PID 1 inside).");
        if (pid < 0)
        {
            runtimeEnd.Dispose();
            throw new RuntimeError("clone", FormatFlags(flags), -pid);
        }
        return new ContainerProcess(pid, runtimeEnd, flags);
    }

    static void TraceExe(ITrace trace, string how) =>
        trace.Step(how == "read-only mount" ? "open_tree" : "memfd_create",
            how == "read-only mount" ? "\"/proc/self/exe\", OPEN_TREE_CLONE; mount_setattr(MOUNT_ATTR_RDONLY)" : "\"incrun\", MFD_ALLOW_SEALING; F_SEAL_WRITE",
            0, $"Init will run from a {how} of incrun's binary: a process in the container that reaches it through /proc/PID/exe cannot overwrite the host's binary (CVE-2019-5736).");

    /// <summary>Sends init the spec and waits until it has built the root filesystem (throws init's error).</summary>
    public void Configure(Spec spec)
    {
        if (CloneFlags(spec.Linux?.Namespaces ?? []) != _flags)
            throw RuntimeError.Plain("the spec's namespaces differ from those the container was spawned with");
        Sync.Send(SyncKind.Spec, payload: SpecWire.Encode(spec));
        WaitForReady();
    }

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

    static int CloneFlags(IReadOnlyList<Namespace> namespaces)
    {
        int flags = 0;
        foreach (var ns in namespaces)
        {
            if (ns.Path is not null && ns.Type == "network") continue; // joined with setns by the C part
            if (ns.Path is not null)
                throw RuntimeError.Plain($"joining an existing {ns.Type} namespace ({ns.Path}) is not supported yet");
            if (ns.Type == "user") throw RuntimeError.Plain("user namespaces are not supported yet");
            flags |= NamespaceFlag(ns.Type);
        }
        if ((flags & CLONE_NEWNS) == 0) throw RuntimeError.Plain("a mount namespace is required");
        return flags;
    }

    /// <summary>The CLONE_NEW* flag of an OCI namespace type.</summary>
    internal static int NamespaceFlag(string type) => type switch
    {
        "pid" => CLONE_NEWPID, "mount" => CLONE_NEWNS, "uts" => CLONE_NEWUTS, "ipc" => CLONE_NEWIPC,
        "network" => CLONE_NEWNET, "cgroup" => CLONE_NEWCGROUP, "user" => CLONE_NEWUSER,
        _ => throw RuntimeError.Plain($"unknown namespace type \"{type}\""),
    };

    static readonly (int Flag, string Name, string Word)[] Names =
    [
        (CLONE_NEWPID, "CLONE_NEWPID", "PID"), (CLONE_NEWNS, "CLONE_NEWNS", "mount"), (CLONE_NEWUTS, "CLONE_NEWUTS", "UTS"),
        (CLONE_NEWIPC, "CLONE_NEWIPC", "IPC"), (CLONE_NEWNET, "CLONE_NEWNET", "network"), (CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "cgroup"),
        (CLONE_NEWUSER, "CLONE_NEWUSER", "user"),
    ];

    internal static string FormatFlags(int flags) => string.Join('|', Names.Where(n => (flags & n.Flag) != 0).Select(n => n.Name));
    internal static string Describe(int flags) => string.Join(", ", Names.Where(n => (flags & n.Flag) != 0).Select(n => n.Word));
}
