using System.Text.Json.Serialization;

namespace Inception.Runtime.Oci;

// The OCI runtime-spec config.json (https://github.com/opencontainers/runtime-spec/blob/main/config.md),
// the part this runtime reads. Unknown fields are ignored when reading.

public sealed class Spec
{
    [JsonPropertyName("ociVersion")] public string OciVersion { get; set; } = "1.2.0";
    [JsonPropertyName("process")] public Process? Process { get; set; }
    [JsonPropertyName("root")] public Root? Root { get; set; }
    [JsonPropertyName("hostname")] public string? Hostname { get; set; }
    [JsonPropertyName("domainname")] public string? Domainname { get; set; }
    [JsonPropertyName("mounts")] public List<Mount> Mounts { get; set; } = [];
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("hooks")] public Hooks? Hooks { get; set; }
    [JsonPropertyName("linux")] public Linux? Linux { get; set; }
}

/// <summary>Lifecycle hooks (config.md#posix-platform-hooks). The runtime runs prestart, createRuntime,
/// poststart and poststop in its own namespaces; init runs createContainer (before pivot_root) and
/// startContainer (after start, before the command's exec) in the container's.</summary>
public sealed class Hooks
{
    [JsonPropertyName("prestart")] public List<Hook>? Prestart { get; set; }
    [JsonPropertyName("createRuntime")] public List<Hook>? CreateRuntime { get; set; }
    [JsonPropertyName("createContainer")] public List<Hook>? CreateContainer { get; set; }
    [JsonPropertyName("startContainer")] public List<Hook>? StartContainer { get; set; }
    [JsonPropertyName("poststart")] public List<Hook>? Poststart { get; set; }
    [JsonPropertyName("poststop")] public List<Hook>? Poststop { get; set; }
}

public sealed class Hook
{
    [JsonPropertyName("path")] public string Path { get; set; } = "";
    [JsonPropertyName("args")] public List<string>? Args { get; set; }
    [JsonPropertyName("env")] public List<string>? Env { get; set; }
    /// <summary>seconds</summary>
    [JsonPropertyName("timeout")] public int? Timeout { get; set; }
}

public sealed class Process
{
    [JsonPropertyName("terminal")] public bool Terminal { get; set; }
    [JsonPropertyName("consoleSize")] public Box? ConsoleSize { get; set; }
    [JsonPropertyName("user")] public User User { get; set; } = new();
    [JsonPropertyName("args")] public List<string> Args { get; set; } = [];
    [JsonPropertyName("env")] public List<string> Env { get; set; } = [];
    [JsonPropertyName("cwd")] public string Cwd { get; set; } = "/";
    [JsonPropertyName("capabilities")] public LinuxCapabilities? Capabilities { get; set; }
    [JsonPropertyName("noNewPrivileges")] public bool NoNewPrivileges { get; set; }
    [JsonPropertyName("rlimits")] public List<Rlimit>? Rlimits { get; set; }
    [JsonPropertyName("oomScoreAdj")] public int? OomScoreAdj { get; set; }
    [JsonPropertyName("apparmorProfile")] public string? ApparmorProfile { get; set; }
    [JsonPropertyName("selinuxLabel")] public string? SelinuxLabel { get; set; }
}

/// <summary>The five capability sets, as names ("CAP_CHOWN").</summary>
public sealed class LinuxCapabilities
{
    [JsonPropertyName("bounding")] public List<string>? Bounding { get; set; }
    [JsonPropertyName("effective")] public List<string>? Effective { get; set; }
    [JsonPropertyName("inheritable")] public List<string>? Inheritable { get; set; }
    [JsonPropertyName("permitted")] public List<string>? Permitted { get; set; }
    [JsonPropertyName("ambient")] public List<string>? Ambient { get; set; }
}

public sealed class Box
{
    [JsonPropertyName("height")] public uint Height { get; set; }
    [JsonPropertyName("width")] public uint Width { get; set; }
}

public sealed class User
{
    [JsonPropertyName("uid")] public uint Uid { get; set; }
    [JsonPropertyName("gid")] public uint Gid { get; set; }
    [JsonPropertyName("umask")] public uint? Umask { get; set; }
    [JsonPropertyName("additionalGids")] public List<uint>? AdditionalGids { get; set; }
}

public sealed class Rlimit
{
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("hard")] public ulong Hard { get; set; }
    [JsonPropertyName("soft")] public ulong Soft { get; set; }
}

public sealed class Root
{
    [JsonPropertyName("path")] public string Path { get; set; } = "rootfs";
    [JsonPropertyName("readonly")] public bool Readonly { get; set; }
}

public sealed class Mount
{
    [JsonPropertyName("destination")] public string Destination { get; set; } = "";
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("source")] public string? Source { get; set; }
    [JsonPropertyName("options")] public List<string>? Options { get; set; }
}

public sealed class Linux
{
    [JsonPropertyName("namespaces")] public List<Namespace> Namespaces { get; set; } = [];
    [JsonPropertyName("uidMappings")] public List<LinuxIdMapping>? UidMappings { get; set; }
    [JsonPropertyName("gidMappings")] public List<LinuxIdMapping>? GidMappings { get; set; }
    [JsonPropertyName("maskedPaths")] public List<string>? MaskedPaths { get; set; }
    [JsonPropertyName("readonlyPaths")] public List<string>? ReadonlyPaths { get; set; }
    [JsonPropertyName("rootfsPropagation")] public string? RootfsPropagation { get; set; }
    [JsonPropertyName("sysctl")] public Dictionary<string, string>? Sysctl { get; set; }
    [JsonPropertyName("devices")] public List<LinuxDevice>? Devices { get; set; }
    [JsonPropertyName("cgroupsPath")] public string? CgroupsPath { get; set; }
    [JsonPropertyName("resources")] public LinuxResources? Resources { get; set; }
    [JsonPropertyName("mountLabel")] public string? MountLabel { get; set; }
    [JsonPropertyName("personality")] public LinuxPersonality? Personality { get; set; }
    [JsonPropertyName("seccomp")] public LinuxSeccomp? Seccomp { get; set; }
    /// <summary>Clock offsets of a new time namespace ("monotonic", "boottime").</summary>
    [JsonPropertyName("timeOffsets")] public Dictionary<string, LinuxTimeOffset>? TimeOffsets { get; set; }

    /// <summary>Whether the container gets a new namespace of this type (listed without a path to join).</summary>
    public bool Creates(string type) => Namespaces.Any(n => n.Type == type && n.Path is null);
}

/// <summary>An offset of linux.timeOffsets: seconds and nanoseconds added to a clock.</summary>
public sealed class LinuxTimeOffset
{
    [JsonPropertyName("secs")] public long Secs { get; set; }
    [JsonPropertyName("nanosecs")] public uint Nanosecs { get; set; }

    /// <summary>The lines of /proc/PID/timens_offsets for a spec's offsets (null without a new time
    /// namespace); throws a one-line error for a clock other than monotonic and boottime, or offsets
    /// without a time namespace of the container's own.</summary>
    public static string? OffsetsText(Linux? linux)
    {
        bool newTimeNs = linux?.Creates("time") == true;
        if (linux?.TimeOffsets is not { Count: > 0 } offsets) return newTimeNs ? "" : null;
        if (!newTimeNs) throw Errors.RuntimeError.Plain("linux.timeOffsets needs a new time namespace in linux.namespaces");
        var text = new System.Text.StringBuilder();
        foreach (var (clock, o) in offsets)
        {
            if (clock is not ("monotonic" or "boottime"))
                throw Errors.RuntimeError.Plain($"linux.timeOffsets: unknown clock \"{clock}\" (monotonic or boottime)");
            if (o.Nanosecs >= 1_000_000_000) throw Errors.RuntimeError.Plain($"linux.timeOffsets.{clock}.nanosecs must be below 1000000000");
            text.Append($"{clock} {o.Secs} {o.Nanosecs}\n");
        }
        return text.ToString();
    }
}

/// <summary>One line of a user namespace's uid_map or gid_map: <see cref="Size"/> ids from
/// <see cref="ContainerId"/> inside are <see cref="HostId"/>.. on the host.</summary>
public sealed class LinuxIdMapping
{
    [JsonPropertyName("containerID")] public uint ContainerId { get; set; }
    [JsonPropertyName("hostID")] public uint HostId { get; set; }
    [JsonPropertyName("size")] public uint Size { get; set; }

    /// <summary>The text of /proc/PID/uid_map (or gid_map) for these lines.</summary>
    public static string MapText(IEnumerable<LinuxIdMapping> lines) =>
        string.Concat(lines.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}\n"));

    /// <summary>The host id that <paramref name="id"/> inside is, or null when it is not mapped.</summary>
    public static uint? ToHost(IEnumerable<LinuxIdMapping>? lines, uint id) =>
        lines?.FirstOrDefault(m => id >= m.ContainerId && id - m.ContainerId < m.Size) is { } m ? m.HostId + (id - m.ContainerId) : null;
}

/// <summary>linux.personality: the execution domain (LINUX, or LINUX32 as `linux32` sets).</summary>
public sealed class LinuxPersonality
{
    [JsonPropertyName("domain")] public string Domain { get; set; } = "LINUX";
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
}

/// <summary>linux.seccomp: the system call filter of the container's process (actions as libseccomp
/// names them: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, …).</summary>
public sealed class LinuxSeccomp
{
    [JsonPropertyName("defaultAction")] public string DefaultAction { get; set; } = "SCMP_ACT_ALLOW";
    [JsonPropertyName("defaultErrnoRet")] public uint? DefaultErrnoRet { get; set; }
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
    [JsonPropertyName("listenerPath")] public string? ListenerPath { get; set; }
    [JsonPropertyName("syscalls")] public List<LinuxSyscall>? Syscalls { get; set; }

    /// <summary>The compiled classic-BPF program (8-byte sock_filter records). Not part of config.json:
    /// the runtime compiles the rules and init receives only this (see SpecWire).</summary>
    [JsonIgnore] public byte[]? Program { get; set; }
}

public sealed class LinuxSyscall
{
    [JsonPropertyName("names")] public List<string> Names { get; set; } = [];
    [JsonPropertyName("action")] public string Action { get; set; } = "";
    [JsonPropertyName("errnoRet")] public uint? ErrnoRet { get; set; }
    [JsonPropertyName("args")] public List<LinuxSeccompArg>? Args { get; set; }
}

/// <summary>A comparison of system call argument <see cref="Index"/> (0-5) with <see cref="Value"/>;
/// SCMP_CMP_MASKED_EQ compares (arg &amp; Value) with <see cref="ValueTwo"/>.</summary>
public sealed class LinuxSeccompArg
{
    [JsonPropertyName("index")] public uint Index { get; set; }
    [JsonPropertyName("value")] public ulong Value { get; set; }
    [JsonPropertyName("valueTwo")] public ulong ValueTwo { get; set; }
    [JsonPropertyName("op")] public string Op { get; set; } = "";
}

/// <summary>linux.resources: what the container's cgroup enforces.</summary>
public sealed class LinuxResources
{
    [JsonPropertyName("memory")] public LinuxMemory? Memory { get; set; }
    [JsonPropertyName("cpu")] public LinuxCpu? Cpu { get; set; }
    [JsonPropertyName("pids")] public LinuxPids? Pids { get; set; }
    [JsonPropertyName("blockIO")] public LinuxBlockIo? BlockIo { get; set; }
    [JsonPropertyName("devices")] public List<LinuxDeviceCgroup>? Devices { get; set; }
}

/// <summary>A device cgroup rule: allow or deny type (a, c, b) major:minor (null = any) with access rwm.</summary>
public sealed class LinuxDeviceCgroup
{
    [JsonPropertyName("allow")] public bool Allow { get; set; }
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("major")] public long? Major { get; set; }
    [JsonPropertyName("minor")] public long? Minor { get; set; }
    [JsonPropertyName("access")] public string? Access { get; set; }
}

/// <summary>A device node created in the container (linux.devices).</summary>
public sealed class LinuxDevice
{
    [JsonPropertyName("path")] public string Path { get; set; } = "";
    [JsonPropertyName("type")] public string Type { get; set; } = "c";
    [JsonPropertyName("major")] public long Major { get; set; }
    [JsonPropertyName("minor")] public long Minor { get; set; }
    [JsonPropertyName("fileMode")] public uint? FileMode { get; set; }
    [JsonPropertyName("uid")] public uint? Uid { get; set; }
    [JsonPropertyName("gid")] public uint? Gid { get; set; }
}

public sealed class LinuxBlockIo
{
    [JsonPropertyName("weight")] public ushort? Weight { get; set; }
    [JsonPropertyName("throttleReadBpsDevice")] public List<LinuxThrottleDevice>? ThrottleReadBpsDevice { get; set; }
    [JsonPropertyName("throttleWriteBpsDevice")] public List<LinuxThrottleDevice>? ThrottleWriteBpsDevice { get; set; }
    [JsonPropertyName("throttleReadIOPSDevice")] public List<LinuxThrottleDevice>? ThrottleReadIopsDevice { get; set; }
    [JsonPropertyName("throttleWriteIOPSDevice")] public List<LinuxThrottleDevice>? ThrottleWriteIopsDevice { get; set; }
}

public sealed class LinuxThrottleDevice
{
    [JsonPropertyName("major")] public long Major { get; set; }
    [JsonPropertyName("minor")] public long Minor { get; set; }
    [JsonPropertyName("rate")] public ulong Rate { get; set; }
}

public sealed class LinuxMemory
{
    /// <summary>bytes; -1 unlimited</summary>
    [JsonPropertyName("limit")] public long? Limit { get; set; }
    [JsonPropertyName("reservation")] public long? Reservation { get; set; }
    /// <summary>memory + swap, bytes; -1 unlimited</summary>
    [JsonPropertyName("swap")] public long? Swap { get; set; }
    [JsonPropertyName("disableOOMKiller")] public bool? DisableOomKiller { get; set; }
}

public sealed class LinuxCpu
{
    [JsonPropertyName("shares")] public ulong? Shares { get; set; }
    [JsonPropertyName("quota")] public long? Quota { get; set; }
    [JsonPropertyName("period")] public ulong? Period { get; set; }
    [JsonPropertyName("cpus")] public string? Cpus { get; set; }
    [JsonPropertyName("mems")] public string? Mems { get; set; }
}

public sealed class LinuxPids
{
    [JsonPropertyName("limit")] public long Limit { get; set; }
}

public sealed class Namespace
{
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("path")] public string? Path { get; set; }
}

/// <summary>Annotations incrun adds to a spec it generates. The OCI spec has no overlay root, so the
/// docker-like layer asks the core to mount one inside the container's own mount namespace (where it
/// cannot leak onto the host) before anything else.</summary>
public static class IncrunAnnotations
{
    public const string OverlayLower = "org.incrun.rootfs.overlay.lowerdir";
    public const string OverlayUpper = "org.incrun.rootfs.overlay.upperdir";
    public const string OverlayWork = "org.incrun.rootfs.overlay.workdir";

    /// <summary>The overlay mount's options for these layers (colon-separated, top first) and directories.</summary>
    public static string OverlayOptions(string lower, string upper, string work) => $"lowerdir={lower},upperdir={upper},workdir={work}";
    /// <summary>The image's EXPOSE entries, comma-separated (for -P).</summary>
    public const string ExposedPorts = "org.incrun.exposed-ports";
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(Spec))]
[JsonSerializable(typeof(Process))]
internal sealed partial class OciJson : JsonSerializerContext;

/// <summary>config.json as System.Text.Json writes it: the reference SpecWriter (which writes it on the
/// start path) is tested against.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(Spec))]
internal sealed partial class OciJsonWriter : JsonSerializerContext;
