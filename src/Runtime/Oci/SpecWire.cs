namespace Inception.Runtime.Oci;

/// <summary>
/// The compact binary form in which the runtime hands a <see cref="Spec"/> to the container's init over
/// the sync socket. config.json stays the OCI document on disk; this is only transport: init would
/// otherwise spend ~2 ms of its start-up initialising System.Text.Json. Carries every field init reads
/// (not linux.resources: the runtime writes the cgroup limits itself, before init runs). linux.seccomp
/// travels compiled: its flags and the BPF program, which init installs as it is.
/// </summary>
public static class SpecWire
{
    const byte Version = 6;

    public static byte[] Encode(Spec spec)
    {
        using var ms = new MemoryStream(4096);
        using (var w = new BinaryWriter(ms))
        {
            w.Write(Version);
            w.Write(spec.OciVersion);
            WriteOpt(w, spec.Hostname);
            WriteOpt(w, spec.Domainname);
            w.Write(spec.Root is not null);
            if (spec.Root is { } root) { w.Write(root.Path); w.Write(root.Readonly); }
            w.Write(spec.Mounts.Count);
            foreach (var m in spec.Mounts)
            {
                w.Write(m.Destination);
                WriteOpt(w, m.Type);
                WriteOpt(w, m.Source);
                WriteList(w, m.Options);
            }
            w.Write(spec.Annotations?.Count ?? -1);
            foreach (var (k, v) in spec.Annotations ?? []) { w.Write(k); w.Write(v); }
            w.Write(spec.Process is not null);
            if (spec.Process is { } p)
            {
                w.Write(p.Terminal);
                w.Write(p.ConsoleSize is not null);
                if (p.ConsoleSize is { } box) { w.Write(box.Height); w.Write(box.Width); }
                w.Write(p.User.Uid);
                w.Write(p.User.Gid);
                w.Write(p.User.Umask ?? uint.MaxValue);
                w.Write(p.User.AdditionalGids?.Count ?? -1);
                foreach (var g in p.User.AdditionalGids ?? []) w.Write(g);
                WriteList(w, p.Args);
                WriteList(w, p.Env);
                w.Write(p.Cwd);
                w.Write(p.NoNewPrivileges);
                w.Write(p.Rlimits?.Count ?? -1);
                foreach (var rl in p.Rlimits ?? []) { w.Write(rl.Type); w.Write(rl.Soft); w.Write(rl.Hard); }
                w.Write(p.OomScoreAdj ?? int.MinValue);
                w.Write(p.Capabilities is not null);
                if (p.Capabilities is { } c)
                {
                    WriteList(w, c.Bounding);
                    WriteList(w, c.Effective);
                    WriteList(w, c.Inheritable);
                    WriteList(w, c.Permitted);
                    WriteList(w, c.Ambient);
                }
            }
            w.Write(spec.Linux is not null);
            if (spec.Linux is { } l)
            {
                w.Write(l.Namespaces.Count);
                foreach (var ns in l.Namespaces) { w.Write(ns.Type); WriteOpt(w, ns.Path); }
                WriteList(w, l.MaskedPaths);
                WriteList(w, l.ReadonlyPaths);
                WriteOpt(w, l.RootfsPropagation);
                WriteOpt(w, l.CgroupsPath);
                w.Write(l.Devices?.Count ?? -1);
                foreach (var d in l.Devices ?? [])
                {
                    w.Write(d.Path); w.Write(d.Type); w.Write(d.Major); w.Write(d.Minor);
                    w.Write(d.FileMode ?? uint.MaxValue); w.Write(d.Uid ?? uint.MaxValue); w.Write(d.Gid ?? uint.MaxValue);
                }
                w.Write(l.Sysctl?.Count ?? -1);
                foreach (var (k, v) in l.Sysctl ?? []) { w.Write(k); w.Write(v); }
                WriteOpt(w, l.Personality?.Domain);
                w.Write(l.Seccomp is not null);
                if (l.Seccomp is { } sc)
                {
                    WriteList(w, sc.Flags);
                    var program = sc.Program ?? Security.Seccomp.BpfInstruction.ToBytes(Security.Seccomp.SeccompCompiler.Compile(sc));
                    w.Write(program.Length);
                    w.Write(program);
                }
            }
            // Only the hooks init runs (in the container's namespaces); the runtime runs the others.
            WriteHooks(w, spec.Hooks?.CreateContainer);
            WriteHooks(w, spec.Hooks?.StartContainer);
        }
        return ms.ToArray();
    }

    public static Spec Decode(ReadOnlySpan<byte> bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes.ToArray()));
        if (r.ReadByte() != Version) throw new InvalidDataException("spec from the runtime has an unknown version");
        var spec = new Spec { OciVersion = r.ReadString(), Hostname = ReadOpt(r), Domainname = ReadOpt(r) };
        if (r.ReadBoolean()) spec.Root = new Root { Path = r.ReadString(), Readonly = r.ReadBoolean() };
        int mounts = r.ReadInt32();
        for (int i = 0; i < mounts; i++)
            spec.Mounts.Add(new Mount { Destination = r.ReadString(), Type = ReadOpt(r), Source = ReadOpt(r), Options = ReadList(r) });
        int annotations = r.ReadInt32();
        if (annotations >= 0)
        {
            spec.Annotations = new(annotations);
            for (int i = 0; i < annotations; i++) spec.Annotations[r.ReadString()] = r.ReadString();
        }
        if (r.ReadBoolean())
        {
            var p = new Process { Terminal = r.ReadBoolean() };
            if (r.ReadBoolean()) p.ConsoleSize = new Box { Height = r.ReadUInt32(), Width = r.ReadUInt32() };
            p.User.Uid = r.ReadUInt32();
            p.User.Gid = r.ReadUInt32();
            uint umask = r.ReadUInt32();
            p.User.Umask = umask == uint.MaxValue ? null : umask;
            int gids = r.ReadInt32();
            if (gids >= 0)
            {
                p.User.AdditionalGids = new(gids);
                for (int i = 0; i < gids; i++) p.User.AdditionalGids.Add(r.ReadUInt32());
            }
            p.Args = ReadList(r) ?? [];
            p.Env = ReadList(r) ?? [];
            p.Cwd = r.ReadString();
            p.NoNewPrivileges = r.ReadBoolean();
            int rlimits = r.ReadInt32();
            if (rlimits >= 0)
            {
                p.Rlimits = new(rlimits);
                for (int i = 0; i < rlimits; i++) p.Rlimits.Add(new Rlimit { Type = r.ReadString(), Soft = r.ReadUInt64(), Hard = r.ReadUInt64() });
            }
            int oom = r.ReadInt32();
            p.OomScoreAdj = oom == int.MinValue ? null : oom;
            if (r.ReadBoolean())
                p.Capabilities = new LinuxCapabilities
                {
                    Bounding = ReadList(r), Effective = ReadList(r), Inheritable = ReadList(r), Permitted = ReadList(r), Ambient = ReadList(r),
                };
            spec.Process = p;
        }
        if (r.ReadBoolean())
        {
            var l = new Linux();
            int count = r.ReadInt32();
            for (int i = 0; i < count; i++) l.Namespaces.Add(new Namespace { Type = r.ReadString(), Path = ReadOpt(r) });
            l.MaskedPaths = ReadList(r);
            l.ReadonlyPaths = ReadList(r);
            l.RootfsPropagation = ReadOpt(r);
            l.CgroupsPath = ReadOpt(r);
            int devices = r.ReadInt32();
            if (devices >= 0)
            {
                l.Devices = new(devices);
                for (int i = 0; i < devices; i++)
                {
                    var d = new LinuxDevice { Path = r.ReadString(), Type = r.ReadString(), Major = r.ReadInt64(), Minor = r.ReadInt64() };
                    uint mode = r.ReadUInt32(), uid = r.ReadUInt32(), gid = r.ReadUInt32();
                    d.FileMode = mode == uint.MaxValue ? null : mode;
                    d.Uid = uid == uint.MaxValue ? null : uid;
                    d.Gid = gid == uint.MaxValue ? null : gid;
                    l.Devices.Add(d);
                }
            }
            int sysctls = r.ReadInt32();
            if (sysctls >= 0)
            {
                l.Sysctl = new(sysctls);
                for (int i = 0; i < sysctls; i++) l.Sysctl[r.ReadString()] = r.ReadString();
            }
            if (ReadOpt(r) is { } domain) l.Personality = new LinuxPersonality { Domain = domain };
            if (r.ReadBoolean())
                l.Seccomp = new LinuxSeccomp { Flags = ReadList(r), Program = r.ReadBytes(r.ReadInt32()), DefaultAction = "" };
            spec.Linux = l;
        }
        var createContainer = ReadHooks(r);
        var startContainer = ReadHooks(r);
        if (createContainer is not null || startContainer is not null)
            spec.Hooks = new Hooks { CreateContainer = createContainer, StartContainer = startContainer };
        return spec;
    }

    static void WriteHooks(BinaryWriter w, List<Hook>? hooks)
    {
        w.Write(hooks?.Count ?? -1);
        foreach (var h in hooks ?? []) { w.Write(h.Path); WriteList(w, h.Args); WriteList(w, h.Env); w.Write(h.Timeout ?? -1); }
    }

    static List<Hook>? ReadHooks(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0) return null;
        var hooks = new List<Hook>(n);
        for (int i = 0; i < n; i++)
        {
            var h = new Hook { Path = r.ReadString(), Args = ReadList(r), Env = ReadList(r) };
            int timeout = r.ReadInt32();
            h.Timeout = timeout < 0 ? null : timeout;
            hooks.Add(h);
        }
        return hooks;
    }

    static void WriteOpt(BinaryWriter w, string? s)
    {
        w.Write(s is not null);
        if (s is not null) w.Write(s);
    }

    static string? ReadOpt(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    static void WriteList(BinaryWriter w, List<string>? list)
    {
        w.Write(list?.Count ?? -1);
        foreach (var s in list ?? []) w.Write(s);
    }

    static List<string>? ReadList(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0) return null;
        var list = new List<string>(n);
        for (int i = 0; i < n; i++) list.Add(r.ReadString());
        return list;
    }
}
