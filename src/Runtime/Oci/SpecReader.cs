using System.Text.Json;

namespace Inception.Runtime.Oci;

/// <summary>
/// Reads config.json (and runc's process.json) into <see cref="Spec"/> with a plain <see cref="Utf8JsonReader"/>
/// loop. The start path reads a spec in every runtime process (`incrun-oci create/run/start/delete`, the
/// docker-like verbs); System.Text.Json's metadata serializer first spends ~3 ms there on reflection
/// (attribute lookups and type handles for every type of the spec), which this avoids. Same contract as
/// <see cref="OciJson"/>: the properties of Spec.cs by their exact [JsonPropertyName], unknown ones
/// skipped, comments and trailing commas allowed, JSON null gives null (an error for a non-nullable
/// number or bool), numbers must fit their type, and errors are <see cref="JsonException"/>s naming the
/// JSON path, line and byte position as System.Text.Json's do. SpecReaderTests holds it to OciJson.
/// </summary>
public static class SpecReader
{
    static readonly JsonReaderOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The spec of a config.json document, or null for a JSON <c>null</c>.</summary>
    public static Spec? Read(ReadOnlySpan<byte> json) => Root(json, Spec);

    /// <summary>An OCI process object (runc's `exec --process` file), or null for a JSON <c>null</c>.</summary>
    public static Process? ReadProcess(ReadOnlySpan<byte> json) => Root(json, Process);

    internal delegate T Reader<T>(ref Utf8JsonReader r);

    /// <summary>A failure below the root: the message and the path segments collected while unwinding.</summary>
    sealed class Failure(string message, long offset) : Exception(message)
    {
        public readonly List<string> Path = [];
        public readonly long Offset = offset;
    }

    /// <summary>A whole document: null, or the object <paramref name="read"/> reads (also the runtime's
    /// state.json, see OciRecord).</summary>
    internal static T? Root<T>(ReadOnlySpan<byte> json, Reader<T> read) where T : class
    {
        var r = new Utf8JsonReader(json, Options);
        try
        {
            if (!r.Read()) throw new JsonException("The input does not contain any JSON tokens. Expected the input to start with a valid JSON token. LineNumber: 0 | BytePositionInLine: 0.");
            var value = Object(ref r, read);
            while (r.Read()) { }   // the reader rejects anything but comments after the value
            return value;
        }
        catch (Failure f)
        {
            // line and byte position (both from 0, as System.Text.Json counts) of the offending value
            var before = json[..(int)f.Offset];
            long line = before.Count((byte)'\n'), position = before.Length - (before.LastIndexOf((byte)'\n') + 1);
            f.Path.Reverse();
            var path = "$" + string.Concat(f.Path);
            throw new JsonException($"{f.Message} Path: {path} | LineNumber: {line} | BytePositionInLine: {position}.", path, line, position);
        }
    }

    static Failure Fail(ref Utf8JsonReader r, string type) =>
        new($"The JSON value could not be converted to {type}.", r.TokenStartIndex);

    // ---- building blocks ---------------------------------------------------------------------------

    /// <summary>null, or the object read by <paramref name="read"/> (the reader is on its StartObject).</summary>
    static T? Object<T>(ref Utf8JsonReader r, Reader<T> read) where T : class
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartObject) throw Fail(ref r, typeof(T).FullName!);
        return read(ref r);
    }

    /// <summary>Moves to the next property of the current object: its name, with the reader on its value;
    /// false at the end of the object.</summary>
    internal static bool Next(ref Utf8JsonReader r, out string name)
    {
        r.Read();
        if (r.TokenType == JsonTokenType.EndObject) { name = ""; return false; }
        name = r.GetString()!;
        r.Read();
        return true;
    }

    /// <summary>Reads one property's value; a failure below it gets the property's name in its path.</summary>
    internal static T Property<T>(ref Utf8JsonReader r, string name, Reader<T> read)
    {
        try { return read(ref r); }
        catch (Failure f) { f.Path.Add(IsPlain(name) ? "." + name : $"['{name}']"); throw; }
    }

    static bool IsPlain(string name)
    {
        foreach (var c in name) if (!char.IsAsciiLetterOrDigit(c) && c != '_') return false;
        return name.Length > 0;
    }

    static List<T>? List<T>(ref Utf8JsonReader r, Reader<T> element)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartArray) throw Fail(ref r, $"System.Collections.Generic.List`1[{typeof(T).FullName}]");
        var list = new List<T>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            try { list.Add(element(ref r)); }
            catch (Failure f) { f.Path.Add($"[{list.Count}]"); throw; }
        }
        return list;
    }

    internal static Dictionary<string, string>? StringMap(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartObject) throw Fail(ref r, "System.Collections.Generic.Dictionary`2[System.String,System.String]");
        var map = new Dictionary<string, string>();
        while (Next(ref r, out var key)) map[key] = Property(ref r, key, String)!;
        return map;
    }

    internal static string? String(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => r.GetString(),
        _ => throw Fail(ref r, "System.String"),
    };

    static List<string>? Strings(ref Utf8JsonReader r) => List<string>(ref r, String!); // null elements stay null, as with OciJson

    static bool Bool(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw Fail(ref r, "System.Boolean"),
    };

    static bool? OptBool(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : Bool(ref r);

    static uint UInt(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetUInt32(out var v) ? v : throw Fail(ref r, "System.UInt32");
    static uint? OptUInt(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : UInt(ref r);
    internal static int Int(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt32(out var v) ? v : throw Fail(ref r, "System.Int32");
    static int? OptInt(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Null ? null : r.TokenType == JsonTokenType.Number && r.TryGetInt32(out var v) ? v : throw Fail(ref r, "System.Int32");
    static long Long(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt64(out var v) ? v : throw Fail(ref r, "System.Int64");
    static long? OptLong(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : Long(ref r);
    internal static ulong ULong(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetUInt64(out var v) ? v : throw Fail(ref r, "System.UInt64");
    static ulong? OptULong(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : ULong(ref r);
    internal static DateTime Date(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.String && r.TryGetDateTime(out var v) ? v : throw Fail(ref r, "System.DateTime");
    static ushort? OptUShort(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Null ? null : r.TokenType == JsonTokenType.Number && r.TryGetUInt16(out var v) ? v : throw Fail(ref r, "System.UInt16");

    // ---- the spec (Spec.cs), type by type ------------------------------------------------------------

    static Spec Spec(ref Utf8JsonReader r)
    {
        var s = new Spec();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "ociVersion": s.OciVersion = Property(ref r, name, String)!; break;
                case "process": s.Process = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Process)); break;
                case "root": s.Root = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Root)); break;
                case "hostname": s.Hostname = Property(ref r, name, String); break;
                case "domainname": s.Domainname = Property(ref r, name, String); break;
                case "mounts": s.Mounts = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, Mount)!))!; break;
                case "annotations": s.Annotations = Property(ref r, name, StringMap); break;
                case "hooks": s.Hooks = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Hooks)); break;
                case "linux": s.Linux = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Linux)); break;
                default: r.Skip(); break;
            }
        return s;
    }

    static Hooks Hooks(ref Utf8JsonReader r)
    {
        var h = new Hooks();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "prestart": h.Prestart = Property(ref r, name, HookList); break;
                case "createRuntime": h.CreateRuntime = Property(ref r, name, HookList); break;
                case "createContainer": h.CreateContainer = Property(ref r, name, HookList); break;
                case "startContainer": h.StartContainer = Property(ref r, name, HookList); break;
                case "poststart": h.Poststart = Property(ref r, name, HookList); break;
                case "poststop": h.Poststop = Property(ref r, name, HookList); break;
                default: r.Skip(); break;
            }
        return h;
    }

    static List<Hook>? HookList(ref Utf8JsonReader r) => List(ref r, (ref Utf8JsonReader x) => Object(ref x, Hook)!);

    static Hook Hook(ref Utf8JsonReader r)
    {
        var h = new Hook();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "path": h.Path = Property(ref r, name, String)!; break;
                case "args": h.Args = Property(ref r, name, Strings); break;
                case "env": h.Env = Property(ref r, name, Strings); break;
                case "timeout": h.Timeout = Property(ref r, name, OptInt); break;
                default: r.Skip(); break;
            }
        return h;
    }

    static Process Process(ref Utf8JsonReader r)
    {
        var p = new Process();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "terminal": p.Terminal = Property(ref r, name, Bool); break;
                case "consoleSize": p.ConsoleSize = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Box)); break;
                case "user": p.User = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, User))!; break;
                case "args": p.Args = Property(ref r, name, Strings)!; break;
                case "env": p.Env = Property(ref r, name, Strings)!; break;
                case "cwd": p.Cwd = Property(ref r, name, String)!; break;
                case "capabilities": p.Capabilities = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Capabilities)); break;
                case "noNewPrivileges": p.NoNewPrivileges = Property(ref r, name, Bool); break;
                case "rlimits": p.Rlimits = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, Rlimit)!)); break;
                case "oomScoreAdj": p.OomScoreAdj = Property(ref r, name, OptInt); break;
                case "apparmorProfile": p.ApparmorProfile = Property(ref r, name, String); break;
                case "selinuxLabel": p.SelinuxLabel = Property(ref r, name, String); break;
                default: r.Skip(); break;
            }
        return p;
    }

    static LinuxCapabilities Capabilities(ref Utf8JsonReader r)
    {
        var c = new LinuxCapabilities();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "bounding": c.Bounding = Property(ref r, name, Strings); break;
                case "effective": c.Effective = Property(ref r, name, Strings); break;
                case "inheritable": c.Inheritable = Property(ref r, name, Strings); break;
                case "permitted": c.Permitted = Property(ref r, name, Strings); break;
                case "ambient": c.Ambient = Property(ref r, name, Strings); break;
                default: r.Skip(); break;
            }
        return c;
    }

    static Box Box(ref Utf8JsonReader r)
    {
        var b = new Box();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "height": b.Height = Property(ref r, name, UInt); break;
                case "width": b.Width = Property(ref r, name, UInt); break;
                default: r.Skip(); break;
            }
        return b;
    }

    static User User(ref Utf8JsonReader r)
    {
        var u = new User();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "uid": u.Uid = Property(ref r, name, UInt); break;
                case "gid": u.Gid = Property(ref r, name, UInt); break;
                case "umask": u.Umask = Property(ref r, name, OptUInt); break;
                case "additionalGids": u.AdditionalGids = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, UInt)); break;
                default: r.Skip(); break;
            }
        return u;
    }

    static Rlimit Rlimit(ref Utf8JsonReader r)
    {
        var l = new Rlimit();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "type": l.Type = Property(ref r, name, String)!; break;
                case "hard": l.Hard = Property(ref r, name, ULong); break;
                case "soft": l.Soft = Property(ref r, name, ULong); break;
                default: r.Skip(); break;
            }
        return l;
    }

    static Root Root(ref Utf8JsonReader r)
    {
        var root = new Root();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "path": root.Path = Property(ref r, name, String)!; break;
                case "readonly": root.Readonly = Property(ref r, name, Bool); break;
                default: r.Skip(); break;
            }
        return root;
    }

    static Mount Mount(ref Utf8JsonReader r)
    {
        var m = new Mount();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "destination": m.Destination = Property(ref r, name, String)!; break;
                case "type": m.Type = Property(ref r, name, String); break;
                case "source": m.Source = Property(ref r, name, String); break;
                case "options": m.Options = Property(ref r, name, Strings); break;
                default: r.Skip(); break;
            }
        return m;
    }

    static Linux Linux(ref Utf8JsonReader r)
    {
        var l = new Linux();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "namespaces": l.Namespaces = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, Namespace)!))!; break;
                case "uidMappings": l.UidMappings = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, IdMapping)!)); break;
                case "gidMappings": l.GidMappings = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, IdMapping)!)); break;
                case "maskedPaths": l.MaskedPaths = Property(ref r, name, Strings); break;
                case "readonlyPaths": l.ReadonlyPaths = Property(ref r, name, Strings); break;
                case "rootfsPropagation": l.RootfsPropagation = Property(ref r, name, String); break;
                case "sysctl": l.Sysctl = Property(ref r, name, StringMap); break;
                case "devices": l.Devices = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, Device)!)); break;
                case "cgroupsPath": l.CgroupsPath = Property(ref r, name, String); break;
                case "resources": l.Resources = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Resources)); break;
                case "mountLabel": l.MountLabel = Property(ref r, name, String); break;
                case "personality": l.Personality = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Personality)); break;
                case "seccomp": l.Seccomp = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Seccomp)); break;
                case "timeOffsets": l.TimeOffsets = Property(ref r, name, TimeOffsets); break;
                default: r.Skip(); break;
            }
        return l;
    }

    static Dictionary<string, LinuxTimeOffset>? TimeOffsets(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail(ref r, "System.Collections.Generic.Dictionary`2[System.String,Inception.Runtime.Oci.LinuxTimeOffset]");
        var map = new Dictionary<string, LinuxTimeOffset>();
        while (Next(ref r, out var clock)) map[clock] = Property(ref r, clock, (ref Utf8JsonReader x) => Object(ref x, TimeOffset))!;
        return map;
    }

    static LinuxTimeOffset TimeOffset(ref Utf8JsonReader r)
    {
        var t = new LinuxTimeOffset();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "secs": t.Secs = Property(ref r, name, Long); break;
                case "nanosecs": t.Nanosecs = Property(ref r, name, UInt); break;
                default: r.Skip(); break;
            }
        return t;
    }

    static LinuxIdMapping IdMapping(ref Utf8JsonReader r)
    {
        var m = new LinuxIdMapping();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "containerID": m.ContainerId = Property(ref r, name, UInt); break;
                case "hostID": m.HostId = Property(ref r, name, UInt); break;
                case "size": m.Size = Property(ref r, name, UInt); break;
                default: r.Skip(); break;
            }
        return m;
    }

    static LinuxPersonality Personality(ref Utf8JsonReader r)
    {
        var p = new LinuxPersonality();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "domain": p.Domain = Property(ref r, name, String)!; break;
                case "flags": p.Flags = Property(ref r, name, Strings); break;
                default: r.Skip(); break;
            }
        return p;
    }

    static LinuxSeccomp Seccomp(ref Utf8JsonReader r)
    {
        var s = new LinuxSeccomp();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "defaultAction": s.DefaultAction = Property(ref r, name, String)!; break;
                case "defaultErrnoRet": s.DefaultErrnoRet = Property(ref r, name, OptUInt); break;
                case "architectures": s.Architectures = Property(ref r, name, Strings); break;
                case "flags": s.Flags = Property(ref r, name, Strings); break;
                case "listenerPath": s.ListenerPath = Property(ref r, name, String); break;
                case "syscalls": s.Syscalls = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, Syscall)!)); break;
                default: r.Skip(); break;
            }
        return s;
    }

    static LinuxSyscall Syscall(ref Utf8JsonReader r)
    {
        var s = new LinuxSyscall();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "names": s.Names = Property(ref r, name, Strings)!; break;
                case "action": s.Action = Property(ref r, name, String)!; break;
                case "errnoRet": s.ErrnoRet = Property(ref r, name, OptUInt); break;
                case "args": s.Args = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, SeccompArg)!)); break;
                default: r.Skip(); break;
            }
        return s;
    }

    static LinuxSeccompArg SeccompArg(ref Utf8JsonReader r)
    {
        var a = new LinuxSeccompArg();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "index": a.Index = Property(ref r, name, UInt); break;
                case "value": a.Value = Property(ref r, name, ULong); break;
                case "valueTwo": a.ValueTwo = Property(ref r, name, ULong); break;
                case "op": a.Op = Property(ref r, name, String)!; break;
                default: r.Skip(); break;
            }
        return a;
    }

    /// <summary>linux.resources (also what `incrun-oci update --resources` reads).</summary>
    public static LinuxResources? ReadResources(ReadOnlySpan<byte> json) => Root(json, Resources);

    static LinuxResources Resources(ref Utf8JsonReader r)
    {
        var res = new LinuxResources();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "memory": res.Memory = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Memory)); break;
                case "cpu": res.Cpu = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Cpu)); break;
                case "pids": res.Pids = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, Pids)); break;
                case "blockIO": res.BlockIo = Property(ref r, name, (ref Utf8JsonReader x) => Object(ref x, BlockIo)); break;
                case "devices": res.Devices = Property(ref r, name, (ref Utf8JsonReader x) => List(ref x, (ref Utf8JsonReader y) => Object(ref y, DeviceRule)!)); break;
                default: r.Skip(); break;
            }
        return res;
    }

    static LinuxDeviceCgroup DeviceRule(ref Utf8JsonReader r)
    {
        var d = new LinuxDeviceCgroup();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "allow": d.Allow = Property(ref r, name, Bool); break;
                case "type": d.Type = Property(ref r, name, String); break;
                case "major": d.Major = Property(ref r, name, OptLong); break;
                case "minor": d.Minor = Property(ref r, name, OptLong); break;
                case "access": d.Access = Property(ref r, name, String); break;
                default: r.Skip(); break;
            }
        return d;
    }

    static LinuxDevice Device(ref Utf8JsonReader r)
    {
        var d = new LinuxDevice();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "path": d.Path = Property(ref r, name, String)!; break;
                case "type": d.Type = Property(ref r, name, String)!; break;
                case "major": d.Major = Property(ref r, name, Long); break;
                case "minor": d.Minor = Property(ref r, name, Long); break;
                case "fileMode": d.FileMode = Property(ref r, name, OptUInt); break;
                case "uid": d.Uid = Property(ref r, name, OptUInt); break;
                case "gid": d.Gid = Property(ref r, name, OptUInt); break;
                default: r.Skip(); break;
            }
        return d;
    }

    static LinuxBlockIo BlockIo(ref Utf8JsonReader r)
    {
        var b = new LinuxBlockIo();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "weight": b.Weight = Property(ref r, name, OptUShort); break;
                case "throttleReadBpsDevice": b.ThrottleReadBpsDevice = Property(ref r, name, Throttles); break;
                case "throttleWriteBpsDevice": b.ThrottleWriteBpsDevice = Property(ref r, name, Throttles); break;
                case "throttleReadIOPSDevice": b.ThrottleReadIopsDevice = Property(ref r, name, Throttles); break;
                case "throttleWriteIOPSDevice": b.ThrottleWriteIopsDevice = Property(ref r, name, Throttles); break;
                default: r.Skip(); break;
            }
        return b;
    }

    static List<LinuxThrottleDevice>? Throttles(ref Utf8JsonReader r) => List(ref r, (ref Utf8JsonReader x) => Object(ref x, Throttle)!);

    static LinuxThrottleDevice Throttle(ref Utf8JsonReader r)
    {
        var t = new LinuxThrottleDevice();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "major": t.Major = Property(ref r, name, Long); break;
                case "minor": t.Minor = Property(ref r, name, Long); break;
                case "rate": t.Rate = Property(ref r, name, ULong); break;
                default: r.Skip(); break;
            }
        return t;
    }

    static LinuxMemory Memory(ref Utf8JsonReader r)
    {
        var m = new LinuxMemory();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "limit": m.Limit = Property(ref r, name, OptLong); break;
                case "reservation": m.Reservation = Property(ref r, name, OptLong); break;
                case "swap": m.Swap = Property(ref r, name, OptLong); break;
                case "disableOOMKiller": m.DisableOomKiller = Property(ref r, name, OptBool); break;
                default: r.Skip(); break;
            }
        return m;
    }

    static LinuxCpu Cpu(ref Utf8JsonReader r)
    {
        var c = new LinuxCpu();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "shares": c.Shares = Property(ref r, name, OptULong); break;
                case "quota": c.Quota = Property(ref r, name, OptLong); break;
                case "period": c.Period = Property(ref r, name, OptULong); break;
                case "cpus": c.Cpus = Property(ref r, name, String); break;
                case "mems": c.Mems = Property(ref r, name, String); break;
                default: r.Skip(); break;
            }
        return c;
    }

    static LinuxPids Pids(ref Utf8JsonReader r)
    {
        var p = new LinuxPids();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "limit": p.Limit = Property(ref r, name, Long); break;
                default: r.Skip(); break;
            }
        return p;
    }

    static Namespace Namespace(ref Utf8JsonReader r)
    {
        var n = new Namespace();
        while (Next(ref r, out var name))
            switch (name)
            {
                case "type": n.Type = Property(ref r, name, String)!; break;
                case "path": n.Path = Property(ref r, name, String); break;
                default: r.Skip(); break;
            }
        return n;
    }
}
