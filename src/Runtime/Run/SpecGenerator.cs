using System.Text.RegularExpressions;
using Inception.Runtime.Cgroups;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Run;

/// <summary>Where a generated spec puts things on the host.</summary>
public sealed record ContainerPaths(string Rootfs, string Upper, string Work, string HostnameFile, string HostsFile, string ResolvConfFile);

/// <summary>
/// Turns image config + <c>run</c> flags into an OCI runtime spec, as podman does: docker's defaults
/// for mounts, masked and read-only paths, environment and user; the image's layers as an overlay root.
/// Bad flags are rejected here, before anything is created.
/// </summary>
public static partial class SpecGenerator
{
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static readonly string[] MaskedPaths =
    [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ];

    public static readonly string[] ReadonlyPaths =
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*$")]
    private static partial Regex HostnamePattern();

    /// <summary>Checks the flags that need no image; throws a one-line error.</summary>
    public static void Validate(RunOptions o)
    {
        if (o.Name is { } n && !NamePattern().IsMatch(n))
            throw RuntimeError.Plain($"Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        if (o.Hostname is { } h && (h.Length > 64 || !HostnamePattern().IsMatch(h)))
            throw RuntimeError.Plain($"invalid hostname format: {h}");
        if (o.Workdir is { Length: > 0 } w && !w.StartsWith('/'))
            throw RuntimeError.Plain($"the working directory '{w}' is invalid, it needs to be an absolute path");
        NetworkRequest(o, []).Validate();
        foreach (var v in o.Volumes) ParseVolume(v);
        var caps = Security.Capabilities.Resolve(o.CapAdd, o.CapDrop, o.Privileged);
        if (SecurityOptions(o).SeccompProfile is not null && Seccomp(o, caps) is { } seccomp)
            Security.Seccomp.SeccompCompiler.Validate(seccomp);
        Resources(o);
        foreach (var u in o.Ulimits) Security.ProcessLimits.ParseUlimit(u);
        foreach (var sc in o.Sysctls) Security.ProcessLimits.ParseSysctl(sc, o.Network != "host");
        foreach (var t in o.Tmpfs) ParseTmpfs(t);
        if (o.OomScoreAdj is { } adj) Security.ProcessLimits.ParseOomScoreAdj(adj);
        ResourceParser.CgroupsPath(o.Resources, "x");
        if (Security.UserNamespaces.Parse(o.Userns) is not null)
        {
            // as docker: what needs the host's root, or a namespace owned by the host's user namespace, cannot have one
            if (o.Privileged) throw RuntimeError.Plain("privileged mode is incompatible with user namespaces; use --userns=host");
            if (o.Network == "host") throw RuntimeError.Plain("cannot share the host's network namespace when user namespaces are enabled; use --userns=host");
            if (o.Network.StartsWith("container:", StringComparison.Ordinal))
                throw RuntimeError.Plain("cannot share another container's network namespace when user namespaces are enabled; use --userns=host");
        }
    }

    /// <param name="cgroups">the host's cgroup layout (detected when null): the container gets a cgroup
    /// namespace and /sys/fs/cgroup showing its own cgroup when the host has any hierarchy</param>
    public static Spec Generate(RunOptions o, ImageDefaults image, IReadOnlyList<string> layerDirs, string id,
        ContainerPaths paths, Func<string, byte[]?> readImageFile, (ushort Rows, ushort Cols)? consoleSize,
        Func<string, string?> hostEnv, CgroupLayout? cgroups = null)
    {
        cgroups ??= CgroupLayout.Detect();
        Validate(o);
        var cwd = !string.IsNullOrEmpty(o.Workdir) ? o.Workdir : !string.IsNullOrEmpty(image.WorkingDir) ? image.WorkingDir : "/";
        if (!cwd.StartsWith('/'))
            throw RuntimeError.Plain($"the working directory '{cwd}' is invalid, it needs to be an absolute path");

        IReadOnlyList<string> entrypoint, cmd;
        if (o.Entrypoint is not null)
        {
            entrypoint = o.Entrypoint.Length == 0 ? [] : [o.Entrypoint];
            cmd = o.Command;
        }
        else
        {
            entrypoint = image.Entrypoint ?? [];
            cmd = o.Command.Count > 0 ? o.Command : image.Cmd ?? [];
        }
        var args = entrypoint.Concat(cmd).ToList();
        if (args.Count == 0) throw RuntimeError.Plain("No command specified");

        var user = UserResolver.Resolve(o.User ?? image.User, readImageFile("/etc/passwd"), readImageFile("/etc/group"));
        var hostname = o.Hostname ?? (o.Network == "host" ? Environment.MachineName : id[..12]);

        var env = new EnvList();
        foreach (var e in image.Env) env.Set(e);
        foreach (var file in o.EnvFiles) foreach (var e in ReadEnvFile(file)) env.SetFromUser(e, hostEnv);
        foreach (var e in o.Env) env.SetFromUser(e, hostEnv);
        env.SetDefault(DefaultPath);
        env.Set($"HOSTNAME={hostname}", overwrite: false);
        if (o.Tty) env.SetDefault("TERM=xterm");
        env.SetDefault($"HOME={user.Home}");

        var namespaces = Namespaces(o, cgroups);

        var mounts = new List<Mount>
        {
            new() { Destination = "/proc", Type = "proc", Source = "proc", Options = ["nosuid", "noexec", "nodev"] },
            new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", o.Privileged ? "rw" : "ro"] },
            new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
            new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new() { Destination = "/etc/resolv.conf", Type = "bind", Source = paths.ResolvConfFile, Options = ["rbind", "rprivate"] },
            new() { Destination = "/etc/hostname", Type = "bind", Source = paths.HostnameFile, Options = ["rbind", "rprivate"] },
            new() { Destination = "/etc/hosts", Type = "bind", Source = paths.HostsFile, Options = ["rbind", "rprivate"] },
        };
        mounts.InsertRange(4, CgroupMounts(cgroups, o.Privileged)); // right after /sys, as docker orders them
        foreach (var t in o.Tmpfs) mounts.Add(ParseTmpfs(t));
        foreach (var v in o.Volumes)
        {
            var (source, destination, readOnly) = ParseVolume(v);
            mounts.Add(new() { Destination = destination, Type = "bind", Source = source, Options = readOnly ? ["rbind", "rprivate", "ro"] : ["rbind", "rprivate"] });
        }

        var caps = Security.Capabilities.Resolve(o.CapAdd, o.CapDrop, o.Privileged);
        var devices = o.Devices.Select(Security.Devices.Parse).ToList();
        var resources = Resources(o, devices);
        return new Spec
        {
            Hostname = hostname,
            Root = new Root { Path = paths.Rootfs, Readonly = o.ReadOnly },
            Process = new Process
            {
                Terminal = o.Tty,
                ConsoleSize = consoleSize is { } s ? new Box { Height = s.Rows, Width = s.Cols } : null,
                User = new User { Uid = user.Uid, Gid = user.Gid, AdditionalGids = user.AdditionalGids.Length > 0 ? [.. user.AdditionalGids] : null },
                Args = args,
                Env = env.ToList(),
                Cwd = cwd,
                // docker: the bounding set is the container's set; a non-root user starts with none effective.
                Capabilities = new LinuxCapabilities
                {
                    Bounding = caps, Effective = user.Uid == 0 ? caps : [], Permitted = user.Uid == 0 ? caps : [],
                    Inheritable = [], Ambient = [],
                },
                NoNewPrivileges = SecurityOptions(o).NoNewPrivileges,
                Rlimits = o.Ulimits.Count == 0 ? null : [.. o.Ulimits.Select(Security.ProcessLimits.ParseUlimit)],
                OomScoreAdj = o.OomScoreAdj,
            },
            Mounts = mounts,
            Annotations = new()
            {
                [IncrunAnnotations.OverlayLower] = string.Join(':', layerDirs.Reverse()),
                [IncrunAnnotations.OverlayUpper] = paths.Upper,
                [IncrunAnnotations.OverlayWork] = paths.Work,
                ["org.incrun.image"] = o.Image,
                ["org.incrun.name"] = o.Name ?? "",
                [IncrunAnnotations.ExposedPorts] = string.Join(',', image.ExposedPorts),
            },
            Linux = new Linux
            {
                Namespaces = namespaces,
                UidMappings = o.IdRange?.UidMappings(),
                GidMappings = o.IdRange?.GidMappings(),
                CgroupsPath = ResourceParser.CgroupsPath(o.Resources, id),
                Sysctl = o.Sysctls.Count == 0 ? null
                    : o.Sysctls.Select(sc => Security.ProcessLimits.ParseSysctl(sc, o.Network != "host")).ToDictionary(),
                Resources = resources,
                Devices = devices.Count == 0 ? null : [.. devices.Select(d => d.Device)],
                MaskedPaths = o.Privileged ? [] : [.. MaskedPaths],
                ReadonlyPaths = o.Privileged ? [] : [.. ReadonlyPaths],
                Seccomp = Seccomp(o, caps),
            },
        };
    }

    /// <summary>
    /// The process of <c>incrun exec</c> in a running container, as docker builds it: the container's
    /// environment plus -e/--env-file (TERM=xterm with -t), its working directory unless -w, its user
    /// unless -u (names resolved in the container's /etc/passwd and /etc/group, HOME from the user's
    /// entry), its capabilities (every one with --privileged; none effective for a non-root user), its
    /// no_new_privs, rlimits and oom_score_adj.
    /// </summary>
    public static Process ExecProcess(Spec container, ExecOptions o, Func<string, byte[]?> readContainerFile,
        (ushort Rows, ushort Cols)? consoleSize, Func<string, string?> hostEnv)
    {
        var c = container.Process ?? throw RuntimeError.Plain("the container's spec has no process");
        if (o.Command.Count == 0) throw RuntimeError.Plain("No command specified");
        if (o.Workdir is { Length: > 0 } w && !w.StartsWith('/'))
            throw RuntimeError.Plain($"the working directory '{w}' is invalid, it needs to be an absolute path");

        var env = new EnvList();
        foreach (var e in c.Env) env.Set(e);
        var user = new User { Uid = c.User.Uid, Gid = c.User.Gid, Umask = c.User.Umask, AdditionalGids = c.User.AdditionalGids };
        if (!string.IsNullOrEmpty(o.User))
        {
            var u = UserResolver.Resolve(o.User, readContainerFile("/etc/passwd"), readContainerFile("/etc/group"));
            user = new User { Uid = u.Uid, Gid = u.Gid, AdditionalGids = u.AdditionalGids.Length > 0 ? [.. u.AdditionalGids] : null };
            env.Set($"HOME={u.Home}");
        }
        foreach (var file in o.EnvFiles) foreach (var e in ReadEnvFile(file)) env.SetFromUser(e, hostEnv);
        foreach (var e in o.Env) env.SetFromUser(e, hostEnv);
        if (o.Tty) env.SetDefault("TERM=xterm");

        var bounding = o.Privileged ? Security.Capabilities.Resolve([], [], privileged: true) : c.Capabilities?.Bounding;
        LinuxCapabilities? caps = bounding is null ? null : new LinuxCapabilities
        {
            Bounding = bounding,
            Effective = user.Uid == 0 ? (o.Privileged ? bounding : c.Capabilities?.Effective ?? bounding) : [],
            Permitted = user.Uid == 0 ? (o.Privileged ? bounding : c.Capabilities?.Permitted ?? bounding) : [],
            Inheritable = [], Ambient = [],
        };
        return new Process
        {
            Terminal = o.Tty,
            ConsoleSize = o.Tty && consoleSize is { } s ? new Box { Height = s.Rows, Width = s.Cols } : null,
            User = user,
            Args = [.. o.Command],
            Env = env.ToList(),
            Cwd = o.Workdir is { Length: > 0 } dir ? dir : c.Cwd,
            Capabilities = caps,
            NoNewPrivileges = c.NoNewPrivileges,
            Rlimits = c.Rlimits,
            OomScoreAdj = c.OomScoreAdj,
        };
    }

    /// <summary>docker's <c>--security-opt</c>: no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json
    /// (also with ':'); apparmor=unconfined and label=disable ask for what incrun does anyway.</summary>
    static (bool NoNewPrivileges, bool SeccompUnconfined, string? SeccompProfile) SecurityOptions(RunOptions o)
    {
        bool nnp = false, unconfined = false;
        string? profile = null;
        foreach (var opt in o.SecurityOpts)
        {
            var (key, value) = opt.IndexOfAny([':', '=']) is var i and >= 0 ? (opt[..i], opt[(i + 1)..]) : (opt, "");
            switch (key)
            {
                case "no-new-privileges" when value is "" or "true": nnp = true; break;
                case "no-new-privileges" when value == "false": nnp = false; break;
                case "seccomp" when value == "unconfined": unconfined = true; profile = null; break;
                case "seccomp" when value.Length > 0: unconfined = false; profile = value; break;
                case "apparmor" when value == "unconfined":
                case "label" when value == "disable":
                    break;
                case "apparmor" or "label":
                    throw RuntimeError.Plain($"--security-opt {opt}: not supported yet (incrun has no {key} support yet)");
                default:
                    throw RuntimeError.Plain($"invalid --security-opt: \"{opt}\"");
            }
        }
        return (nnp, unconfined, profile);
    }

    /// <summary>The container's linux.seccomp: docker's default profile, or the given one, resolved for the
    /// container's capabilities; none with seccomp=unconfined or --privileged (as docker).</summary>
    static LinuxSeccomp? Seccomp(RunOptions o, IReadOnlyCollection<string> caps)
    {
        var (_, unconfined, path) = SecurityOptions(o);
        if (unconfined || o.Privileged) return null;
        var profile = path is null ? Security.Seccomp.DefaultProfile.Create() : Security.Seccomp.SeccompProfile.Load(path);
        return profile.Resolve(caps, Security.Seccomp.SeccompProfile.RunningKernel());
    }

    /// <summary>What the network layer is asked for (<see cref="Network.ContainerNetwork.Attach"/>).</summary>
    public static Network.NetworkRequest NetworkRequest(RunOptions o, Spec spec) =>
        NetworkRequest(o, (spec.Annotations?.GetValueOrDefault(IncrunAnnotations.ExposedPorts) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries));

    static Network.NetworkRequest NetworkRequest(RunOptions o, IReadOnlyList<string> exposed) => new()
    {
        Mode = o.Network == "default" ? Network.NetworkStore.DefaultNetwork : o.Network,
        Publish = o.Publish, PublishAll = o.PublishAll, Exposed = exposed, Aliases = o.NetworkAliases, Hostname = o.Hostname,
    };

    /// <summary>The namespaces a container of these options gets (known before the image is read).</summary>
    public static List<Namespace> Namespaces(RunOptions o, CgroupLayout cgroups)
    {
        var namespaces = new List<Namespace> { new() { Type = "pid" }, new() { Type = "mount" }, new() { Type = "uts" }, new() { Type = "ipc" } };
        if (o.IdRange is not null) namespaces.Insert(0, new() { Type = "user" });
        if (o.Network != "host") namespaces.Add(new() { Type = "network", Path = o.NetnsPath });
        if (cgroups.HasAny) namespaces.Add(new() { Type = "cgroup" });
        return namespaces;
    }

    /// <summary>/sys/fs/cgroup inside the container, showing (through its cgroup namespace) its own cgroup
    /// as the root: cgroup2 on v2; on v1 a tmpfs with one mount per hierarchy, then made read-only.
    /// With <paramref name="bindCgroup"/> (a container with a user namespace but no cgroup namespace of its
    /// own, where cgroupfs cannot be mounted), bind mounts of that cgroup's host directories instead, as runc does.</summary>
    internal static List<Mount> CgroupMounts(CgroupLayout cgroups, bool privileged, string? bindCgroup = null)
    {
        var mode = privileged ? "rw" : "ro";
        string Host(string mountPoint) => mountPoint + "/" + bindCgroup!.Trim('/');
        if (cgroups.UseV2)
            return [bindCgroup is null
                ? new() { Destination = "/sys/fs/cgroup", Type = "cgroup2", Source = "cgroup2", Options = ["nosuid", "noexec", "nodev", "relatime", mode] }
                : new() { Destination = "/sys/fs/cgroup", Type = "bind", Source = Host(cgroups.Unified!), Options = ["rbind", "nosuid", "noexec", "nodev", mode] }];
        var mounts = new List<Mount>();
        var hierarchies = cgroups.Hierarchies();
        if (hierarchies.Count == 0) return mounts;
        mounts.Add(new() { Destination = "/sys/fs/cgroup", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "noexec", "nodev", "mode=755"] });
        foreach (var (name, controllers) in hierarchies)
            mounts.Add(bindCgroup is null
                ? new() { Destination = $"/sys/fs/cgroup/{name}", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", mode, .. controllers] }
                : new() { Destination = $"/sys/fs/cgroup/{name}", Type = "bind", Source = Host(cgroups.V1[controllers[0]]), Options = ["rbind", "nosuid", "noexec", "nodev", mode] });
        if (!privileged)
            mounts.Add(new() { Destination = "/sys/fs/cgroup", Type = "tmpfs", Source = "tmpfs", Options = ["remount", "ro", "nosuid", "noexec", "nodev", "mode=755"] });
        return mounts;
    }

    /// <summary>What the container's cgroup enforces: the resource flags and the device rules (docker's
    /// defaults plus --device). The runner writes them before the rest of the spec exists.</summary>
    public static LinuxResources Resources(RunOptions o, IReadOnlyList<(LinuxDevice Device, string Access)>? devices = null)
    {
        var resources = ResourceParser.Parse(o.Resources, Environment.ProcessorCount, ResourceParser.AvailableCpus) ?? new LinuxResources();
        resources.Devices = Security.Devices.Rules(devices ?? [.. o.Devices.Select(Security.Devices.Parse)], o.Privileged);
        return resources;
    }

    /// <summary>docker's <c>--tmpfs /run[:OPTIONS]</c>; default options rw,noexec,nosuid,size=65536k.</summary>
    public static Mount ParseTmpfs(string spec)
    {
        var colon = spec.IndexOf(':');
        var destination = colon < 0 ? spec : spec[..colon];
        if (!destination.StartsWith('/')) throw RuntimeError.Plain($"invalid --tmpfs \"{spec}\": the path must be absolute");
        var options = colon < 0 ? ["rw", "noexec", "nosuid", "size=65536k"] : spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
        return new Mount { Destination = destination, Type = "tmpfs", Source = "tmpfs", Options = options };
    }

    /// <summary><c>HOST:CONTAINER[:ro|rw]</c> with absolute paths on both sides.</summary>
    public static (string Source, string Destination, bool ReadOnly) ParseVolume(string spec)
    {
        var parts = spec.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            throw RuntimeError.Plain($"invalid volume specification \"{spec}\": expected HOST-PATH:CONTAINER-PATH[:ro]");
        if (!parts[0].StartsWith('/'))
            throw RuntimeError.Plain($"invalid volume specification \"{spec}\": host path \"{parts[0]}\" must be absolute (named volumes are not supported yet)");
        if (!parts[1].StartsWith('/'))
            throw RuntimeError.Plain($"invalid volume specification \"{spec}\": container path \"{parts[1]}\" must be absolute");
        bool ro = false;
        if (parts.Length == 3)
            foreach (var opt in parts[2].Split(','))
                ro = opt switch
                {
                    "ro" => true,
                    "rw" => false,
                    "z" or "Z" => ro,
                    _ => throw RuntimeError.Plain($"invalid volume specification \"{spec}\": unknown option \"{opt}\""),
                };
        return (Path.GetFullPath(parts[0]), parts[1], ro);
    }

    static IEnumerable<string> ReadEnvFile(string file)
    {
        string[] lines;
        try { lines = File.ReadAllLines(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw RuntimeError.Plain($"open {file}: {(e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : RuntimeError.IoText(e))}");
        }
        foreach (var raw in lines)
        {
            var line = raw.TrimStart();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            yield return line;
        }
    }

    /// <summary>NAME=value pairs in first-seen order, later values replacing earlier ones.</summary>
    sealed class EnvList
    {
        readonly List<string> _order = [];
        readonly Dictionary<string, string> _values = [];

        public void Set(string entry, bool overwrite = true)
        {
            int eq = entry.IndexOf('=');
            var key = eq < 0 ? entry : entry[..eq];
            if (key.Length == 0) throw RuntimeError.Plain($"invalid environment variable: {entry}");
            if (!_values.ContainsKey(key)) _order.Add(key);
            else if (!overwrite) return;
            _values[key] = entry;
        }

        public void SetDefault(string entry) => Set(entry, overwrite: false);

        /// <summary>docker's -e: NAME=value, or NAME alone to take the host's value (dropped if unset).</summary>
        public void SetFromUser(string entry, Func<string, string?> hostEnv)
        {
            if (entry.Contains('=')) { Set(entry); return; }
            if (entry.Length == 0) throw RuntimeError.Plain("invalid environment variable: empty name");
            if (hostEnv(entry) is { } value) Set($"{entry}={value}");
        }

        public List<string> ToList() => [.. _order.Select(k => _values[k])];
    }
}
