using System.Text.Json;

namespace Inception.Runtime.Oci;

/// <summary>
/// Writes config.json with a plain <see cref="Utf8JsonWriter"/>: byte for byte what <see cref="OciJsonWriter"/>
/// writes (indented, null properties left out, Spec.cs's property order), without the ~1 ms System.Text.Json
/// spends on reflection before its first document in a process — on the way to every container's start.
/// SpecReaderTests holds the two to the same bytes.
/// </summary>
public static class SpecWriter
{
    static readonly JsonWriterOptions Indented = new() { Indented = true };

    public static byte[] Write(Spec spec) => Document(w => Spec(w, spec));

    /// <summary>An indented JSON document written by <paramref name="write"/> (also the runtime's state
    /// documents, see OciRecord and OciState).</summary>
    internal static byte[] Document(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer, Indented)) write(w);
        return buffer.WrittenSpan.ToArray();
    }

    // ---- building blocks: a null value writes nothing (JsonIgnoreCondition.WhenWritingNull) ----------

    internal static void Str(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null) w.WriteString(name, value);
    }

    static void Bool(Utf8JsonWriter w, string name, bool? value)
    {
        if (value is { } v) w.WriteBoolean(name, v);
    }

    static void UInt(Utf8JsonWriter w, string name, uint? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
    }

    static void Int(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
    }

    static void Long(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
    }

    static void ULong(Utf8JsonWriter w, string name, ulong? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
    }

    static void Object<T>(Utf8JsonWriter w, string name, T? value, Action<Utf8JsonWriter, T> write) where T : class
    {
        if (value is null) return;
        w.WritePropertyName(name);
        write(w, value);
    }

    static void List<T>(Utf8JsonWriter w, string name, List<T>? list, Action<Utf8JsonWriter, T> element)
    {
        if (list is null) return;
        w.WriteStartArray(name);
        foreach (var e in list) element(w, e);
        w.WriteEndArray();
    }

    static void Strings(Utf8JsonWriter w, string name, List<string>? list) =>
        List(w, name, list, static (w, s) => { if (s is null) w.WriteNullValue(); else w.WriteStringValue(s); });

    internal static void StringMap(Utf8JsonWriter w, string name, Dictionary<string, string>? map)
    {
        if (map is null) return;
        w.WriteStartObject(name);
        foreach (var (k, v) in map)
        {
            if (v is null) w.WriteNull(k);
            else w.WriteString(k, v);
        }
        w.WriteEndObject();
    }

    /// <summary>An element of a list of objects: null, or the object.</summary>
    static Action<Utf8JsonWriter, T> Element<T>(Action<Utf8JsonWriter, T> write) where T : class =>
        (w, e) => { if (e is null) w.WriteNullValue(); else write(w, e); };

    // ---- the spec (Spec.cs), type by type, in declaration order ------------------------------------

    static void Spec(Utf8JsonWriter w, Spec s)
    {
        w.WriteStartObject();
        Str(w, "ociVersion", s.OciVersion);
        Object(w, "process", s.Process, Process);
        Object(w, "root", s.Root, Root);
        Str(w, "hostname", s.Hostname);
        Str(w, "domainname", s.Domainname);
        List(w, "mounts", s.Mounts, Element<Mount>(Mount));
        StringMap(w, "annotations", s.Annotations);
        Object(w, "hooks", s.Hooks, Hooks);
        Object(w, "linux", s.Linux, Linux);
        w.WriteEndObject();
    }

    static void Hooks(Utf8JsonWriter w, Hooks h)
    {
        w.WriteStartObject();
        HookList(w, "prestart", h.Prestart);
        HookList(w, "createRuntime", h.CreateRuntime);
        HookList(w, "createContainer", h.CreateContainer);
        HookList(w, "startContainer", h.StartContainer);
        HookList(w, "poststart", h.Poststart);
        HookList(w, "poststop", h.Poststop);
        w.WriteEndObject();
    }

    static void HookList(Utf8JsonWriter w, string name, List<Hook>? hooks) => List(w, name, hooks, Element<Hook>(Hook));

    static void Hook(Utf8JsonWriter w, Hook h)
    {
        w.WriteStartObject();
        Str(w, "path", h.Path);
        Strings(w, "args", h.Args);
        Strings(w, "env", h.Env);
        Int(w, "timeout", h.Timeout);
        w.WriteEndObject();
    }

    static void Process(Utf8JsonWriter w, Process p)
    {
        w.WriteStartObject();
        Bool(w, "terminal", p.Terminal);
        Object(w, "consoleSize", p.ConsoleSize, Box);
        Object(w, "user", p.User, User);
        Strings(w, "args", p.Args);
        Strings(w, "env", p.Env);
        Str(w, "cwd", p.Cwd);
        Object(w, "capabilities", p.Capabilities, Capabilities);
        Bool(w, "noNewPrivileges", p.NoNewPrivileges);
        List(w, "rlimits", p.Rlimits, Element<Rlimit>(Rlimit));
        Int(w, "oomScoreAdj", p.OomScoreAdj);
        Str(w, "apparmorProfile", p.ApparmorProfile);
        Str(w, "selinuxLabel", p.SelinuxLabel);
        w.WriteEndObject();
    }

    static void Capabilities(Utf8JsonWriter w, LinuxCapabilities c)
    {
        w.WriteStartObject();
        Strings(w, "bounding", c.Bounding);
        Strings(w, "effective", c.Effective);
        Strings(w, "inheritable", c.Inheritable);
        Strings(w, "permitted", c.Permitted);
        Strings(w, "ambient", c.Ambient);
        w.WriteEndObject();
    }

    static void Box(Utf8JsonWriter w, Box b)
    {
        w.WriteStartObject();
        UInt(w, "height", b.Height);
        UInt(w, "width", b.Width);
        w.WriteEndObject();
    }

    static void User(Utf8JsonWriter w, User u)
    {
        w.WriteStartObject();
        UInt(w, "uid", u.Uid);
        UInt(w, "gid", u.Gid);
        UInt(w, "umask", u.Umask);
        List(w, "additionalGids", u.AdditionalGids, static (w, g) => w.WriteNumberValue(g));
        w.WriteEndObject();
    }

    static void Rlimit(Utf8JsonWriter w, Rlimit l)
    {
        w.WriteStartObject();
        Str(w, "type", l.Type);
        ULong(w, "hard", l.Hard);
        ULong(w, "soft", l.Soft);
        w.WriteEndObject();
    }

    static void Root(Utf8JsonWriter w, Root r)
    {
        w.WriteStartObject();
        Str(w, "path", r.Path);
        Bool(w, "readonly", r.Readonly);
        w.WriteEndObject();
    }

    static void Mount(Utf8JsonWriter w, Mount m)
    {
        w.WriteStartObject();
        Str(w, "destination", m.Destination);
        Str(w, "type", m.Type);
        Str(w, "source", m.Source);
        Strings(w, "options", m.Options);
        w.WriteEndObject();
    }

    static void Linux(Utf8JsonWriter w, Linux l)
    {
        w.WriteStartObject();
        List(w, "namespaces", l.Namespaces, Element<Namespace>(Namespace));
        List(w, "uidMappings", l.UidMappings, Element<LinuxIdMapping>(IdMapping));
        List(w, "gidMappings", l.GidMappings, Element<LinuxIdMapping>(IdMapping));
        Strings(w, "maskedPaths", l.MaskedPaths);
        Strings(w, "readonlyPaths", l.ReadonlyPaths);
        Str(w, "rootfsPropagation", l.RootfsPropagation);
        StringMap(w, "sysctl", l.Sysctl);
        List(w, "devices", l.Devices, Element<LinuxDevice>(Device));
        Str(w, "cgroupsPath", l.CgroupsPath);
        Object(w, "resources", l.Resources, Resources);
        Str(w, "mountLabel", l.MountLabel);
        Object(w, "personality", l.Personality, Personality);
        Object(w, "seccomp", l.Seccomp, Seccomp);
        if (l.TimeOffsets is { } offsets)
        {
            w.WriteStartObject("timeOffsets");
            foreach (var (clock, o) in offsets)
            {
                if (o is null) { w.WriteNull(clock); continue; }
                w.WriteStartObject(clock);
                w.WriteNumber("secs", o.Secs);
                w.WriteNumber("nanosecs", o.Nanosecs);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    static void IdMapping(Utf8JsonWriter w, LinuxIdMapping m)
    {
        w.WriteStartObject();
        UInt(w, "containerID", m.ContainerId);
        UInt(w, "hostID", m.HostId);
        UInt(w, "size", m.Size);
        w.WriteEndObject();
    }

    static void Personality(Utf8JsonWriter w, LinuxPersonality p)
    {
        w.WriteStartObject();
        Str(w, "domain", p.Domain);
        Strings(w, "flags", p.Flags);
        w.WriteEndObject();
    }

    static void Seccomp(Utf8JsonWriter w, LinuxSeccomp s)
    {
        w.WriteStartObject();
        Str(w, "defaultAction", s.DefaultAction);
        UInt(w, "defaultErrnoRet", s.DefaultErrnoRet);
        Strings(w, "architectures", s.Architectures);
        Strings(w, "flags", s.Flags);
        Str(w, "listenerPath", s.ListenerPath);
        List(w, "syscalls", s.Syscalls, Element<LinuxSyscall>(Syscall));
        w.WriteEndObject();
    }

    static void Syscall(Utf8JsonWriter w, LinuxSyscall s)
    {
        w.WriteStartObject();
        Strings(w, "names", s.Names);
        Str(w, "action", s.Action);
        UInt(w, "errnoRet", s.ErrnoRet);
        List(w, "args", s.Args, Element<LinuxSeccompArg>(SeccompArg));
        w.WriteEndObject();
    }

    static void SeccompArg(Utf8JsonWriter w, LinuxSeccompArg a)
    {
        w.WriteStartObject();
        UInt(w, "index", a.Index);
        ULong(w, "value", a.Value);
        ULong(w, "valueTwo", a.ValueTwo);
        Str(w, "op", a.Op);
        w.WriteEndObject();
    }

    static void Resources(Utf8JsonWriter w, LinuxResources r)
    {
        w.WriteStartObject();
        Object(w, "memory", r.Memory, Memory);
        Object(w, "cpu", r.Cpu, Cpu);
        Object(w, "pids", r.Pids, Pids);
        Object(w, "blockIO", r.BlockIo, BlockIo);
        List(w, "devices", r.Devices, Element<LinuxDeviceCgroup>(DeviceRule));
        w.WriteEndObject();
    }

    static void DeviceRule(Utf8JsonWriter w, LinuxDeviceCgroup d)
    {
        w.WriteStartObject();
        Bool(w, "allow", d.Allow);
        Str(w, "type", d.Type);
        Long(w, "major", d.Major);
        Long(w, "minor", d.Minor);
        Str(w, "access", d.Access);
        w.WriteEndObject();
    }

    static void Device(Utf8JsonWriter w, LinuxDevice d)
    {
        w.WriteStartObject();
        Str(w, "path", d.Path);
        Str(w, "type", d.Type);
        Long(w, "major", d.Major);
        Long(w, "minor", d.Minor);
        UInt(w, "fileMode", d.FileMode);
        UInt(w, "uid", d.Uid);
        UInt(w, "gid", d.Gid);
        w.WriteEndObject();
    }

    static void BlockIo(Utf8JsonWriter w, LinuxBlockIo b)
    {
        w.WriteStartObject();
        if (b.Weight is { } weight) w.WriteNumber("weight", weight);
        Throttles(w, "throttleReadBpsDevice", b.ThrottleReadBpsDevice);
        Throttles(w, "throttleWriteBpsDevice", b.ThrottleWriteBpsDevice);
        Throttles(w, "throttleReadIOPSDevice", b.ThrottleReadIopsDevice);
        Throttles(w, "throttleWriteIOPSDevice", b.ThrottleWriteIopsDevice);
        w.WriteEndObject();
    }

    static void Throttles(Utf8JsonWriter w, string name, List<LinuxThrottleDevice>? list) =>
        List(w, name, list, Element<LinuxThrottleDevice>(static (w, t) =>
        {
            w.WriteStartObject();
            Long(w, "major", t.Major);
            Long(w, "minor", t.Minor);
            ULong(w, "rate", t.Rate);
            w.WriteEndObject();
        }));

    static void Memory(Utf8JsonWriter w, LinuxMemory m)
    {
        w.WriteStartObject();
        Long(w, "limit", m.Limit);
        Long(w, "reservation", m.Reservation);
        Long(w, "swap", m.Swap);
        Bool(w, "disableOOMKiller", m.DisableOomKiller);
        w.WriteEndObject();
    }

    static void Cpu(Utf8JsonWriter w, LinuxCpu c)
    {
        w.WriteStartObject();
        ULong(w, "shares", c.Shares);
        Long(w, "quota", c.Quota);
        ULong(w, "period", c.Period);
        Str(w, "cpus", c.Cpus);
        Str(w, "mems", c.Mems);
        w.WriteEndObject();
    }

    static void Pids(Utf8JsonWriter w, LinuxPids p)
    {
        w.WriteStartObject();
        Long(w, "limit", p.Limit);
        w.WriteEndObject();
    }

    static void Namespace(Utf8JsonWriter w, Namespace n)
    {
        w.WriteStartObject();
        Str(w, "type", n.Type);
        Str(w, "path", n.Path);
        w.WriteEndObject();
    }
}
