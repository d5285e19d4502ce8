using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Security;

/// <summary>Which devices a container may use: docker's default rules (deny all, then the standard
/// character devices and mknod of any), plus <c>--device HOST[:CONTAINER][:rwm]</c>.</summary>
public static class Devices
{
    /// <summary>The device cgroup rules of a container, in order.</summary>
    public static List<LinuxDeviceCgroup> Rules(IEnumerable<(LinuxDevice Device, string Access)> added, bool privileged)
    {
        if (privileged) return [new() { Allow = true, Access = "rwm" }];
        var rules = new List<LinuxDeviceCgroup>
        {
            new() { Allow = false, Access = "rwm" },
            new() { Allow = true, Type = "c", Access = "m" }, new() { Allow = true, Type = "b", Access = "m" },
            Char(1, 3), Char(1, 5), Char(1, 7), Char(1, 8), Char(1, 9), Char(5, 0), Char(5, 1), Char(5, 2),
            new() { Allow = true, Type = "c", Major = 136, Access = "rwm" },   // /dev/pts/*
            Char(10, 200),                                                     // /dev/net/tun
        };
        foreach (var (d, access) in added)
            rules.Add(new() { Allow = true, Type = d.Type, Major = d.Major, Minor = d.Minor, Access = access });
        return rules;
    }

    static LinuxDeviceCgroup Char(long major, long minor) => new() { Allow = true, Type = "c", Major = major, Minor = minor, Access = "rwm" };

    /// <summary><c>/dev/sda</c>, <c>/dev/sda:/dev/xvda</c>, <c>/dev/sda:/dev/xvda:r</c>, <c>/dev/sda:r</c>.</summary>
    public static (LinuxDevice Device, string Access) Parse(string spec)
    {
        var parts = spec.Split(':');
        if (parts.Length > 3 || parts[0].Length == 0) throw RuntimeError.Plain($"invalid device specification: {spec}");
        var host = parts[0];
        string container = host, access = "rwm";
        if (parts.Length == 2) { if (IsAccess(parts[1])) access = parts[1]; else container = parts[1]; }
        if (parts.Length == 3) { container = parts[1]; access = parts[2]; }
        if (!IsAccess(access)) throw RuntimeError.Plain($"invalid device mode: {access}");
        if (!container.StartsWith('/')) throw RuntimeError.Plain($"invalid device specification: {spec} (the container path must be absolute)");
        int err = Native.Libc.StatPath(host, out var st);
        if (err != 0) throw new RuntimeError("--device", host, err);
        var type = (st.Mode & 0xF000) switch
        {
            0x2000 => "c",
            0x6000 => "b",
            _ => throw RuntimeError.Plain($"--device: {host} is not a device"),
        };
        return (new LinuxDevice
        {
            Path = container, Type = type, Major = Native.Libc.Major(st.Rdev), Minor = Native.Libc.Minor(st.Rdev),
            FileMode = st.Mode & 0xfff, Uid = 0, Gid = 0,
        }, access);
    }

    static bool IsAccess(string s) => s.Length is > 0 and <= 3 && s.All(c => c is 'r' or 'w' or 'm') && s.Distinct().Count() == s.Length;

    /// <summary>The v1 devices.deny / devices.allow line of a rule: "c 1:3 rwm", "a *:* rwm".</summary>
    public static string Line(LinuxDeviceCgroup r) =>
        $"{r.Type ?? "a"} {(r.Major is { } ma ? ma.ToString() : "*")}:{(r.Minor is { } mi ? mi.ToString() : "*")} {r.Access ?? "rwm"}";
}
