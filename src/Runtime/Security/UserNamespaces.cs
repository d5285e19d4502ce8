using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Security;

/// <summary>A container's block of host ids: its uid 0..Size-1 are host uids HostUid.., its gids HostGid...</summary>
public sealed class UserRange
{
    public uint HostUid { get; set; }
    public uint HostGid { get; set; }
    public uint Size { get; set; }

    public List<LinuxIdMapping> UidMappings() => [new() { ContainerId = 0, HostId = HostUid, Size = Size }];
    public List<LinuxIdMapping> GidMappings() => [new() { ContainerId = 0, HostId = HostGid, Size = Size }];
}

/// <summary>
/// <c>--userns</c>: <c>host</c> (no user namespace: the container's root is the host's, as docker's
/// default) or <c>auto[:size=N]</c> (podman's name): the container gets its own block of N (65536) host
/// ids, taken from the subordinate ids that /etc/subuid and /etc/subgid give the user <c>incrun</c>
/// (build.sh adds them), and not used by any other container of this state root. Its root is then an
/// unprivileged uid on the host.
/// </summary>
public static class UserNamespaces
{
    public const string Owner = "incrun";
    public const uint DefaultSize = 65536;

    /// <summary>The size an <c>auto</c> mode asks for, or null for the host's namespace; throws on a bad value.</summary>
    public static uint? Parse(string? mode)
    {
        if (mode is null or "" or "host") return null;
        if (mode == "auto") return DefaultSize;
        if (mode.StartsWith("auto:", StringComparison.Ordinal))
        {
            uint size = DefaultSize;
            foreach (var opt in mode[5..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (opt.StartsWith("size=", StringComparison.Ordinal) && uint.TryParse(opt[5..], out var n) && n is >= 1 and <= 1u << 24)
                    size = n;
                else throw RuntimeError.Plain($"invalid --userns option \"{opt}\" (auto takes size=N, 1 to 16777216)");
            }
            return size;
        }
        throw RuntimeError.Plain($"invalid --userns \"{mode}\": host or auto[:size=N]");
    }

    /// <summary>The subordinate id ranges of <see cref="Owner"/> in an /etc/subuid-style file (name or uid).</summary>
    public static List<(uint Start, uint Count)> SubordinateIds(string file, string? ownerUid)
    {
        var ranges = new List<(uint, uint)>();
        string[] lines;
        try { lines = File.ReadAllLines(file); }
        catch (FileNotFoundException) { return ranges; }
        catch (IOException e) { throw RuntimeError.Plain($"--userns=auto: reading {file}: {RuntimeError.IoText(e)}"); }
        foreach (var line in lines)
        {
            var f = line.Split(':');
            if (f.Length != 3 || (f[0] != Owner && f[0] != ownerUid)) continue;
            if (uint.TryParse(f[1], out var start) && uint.TryParse(f[2], out var count) && count > 0) ranges.Add((start, count));
        }
        return ranges;
    }

    /// <summary>The lowest block of <paramref name="size"/> ids in the subordinate ranges of both files that
    /// overlaps none of <paramref name="taken"/>. Throws a one-line error when there is none.</summary>
    public static UserRange Allocate(uint size, IEnumerable<UserRange> taken, string subuid = "/etc/subuid", string subgid = "/etc/subgid")
    {
        var ownerUid = OwnerUid();
        var uids = SubordinateIds(subuid, ownerUid);
        var gids = SubordinateIds(subgid, ownerUid);
        if (uids.Count == 0 || gids.Count == 0)
            throw RuntimeError.Plain($"--userns=auto: no subordinate ids for user \"{Owner}\" in {(uids.Count == 0 ? subuid : subgid)} " +
                $"(add a line such as {Owner}:2147483648:268435456 to /etc/subuid and /etc/subgid; ./build.sh does)");
        var list = taken.ToList();
        uint? uid = First(uids, size, list.Select(r => (r.HostUid, r.Size)));
        uint? gid = First(gids, size, list.Select(r => (r.HostGid, r.Size)));
        if (uid is null || gid is null)
            throw RuntimeError.Plain($"--userns=auto: no free block of {size} ids left in the subordinate ids of \"{Owner}\" ({list.Count} containers hold one)");
        return new UserRange { HostUid = uid.Value, HostGid = gid.Value, Size = size };
    }

    static uint? First(List<(uint Start, uint Count)> pool, uint size, IEnumerable<(uint Start, uint Size)> taken)
    {
        var used = taken.OrderBy(t => t.Start).ToList();
        foreach (var (start, count) in pool.OrderBy(p => p.Start))
        {
            ulong candidate = start, end = (ulong)start + count;
            while (candidate + size <= end)
            {
                var clash = used.FirstOrDefault(u => candidate < (ulong)u.Start + u.Size && u.Start < candidate + size);
                if (clash.Size == 0) return (uint)candidate;
                candidate = (ulong)clash.Start + clash.Size;
            }
        }
        return null;
    }

    static string? OwnerUid()
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
                if (line.StartsWith(Owner + ":", StringComparison.Ordinal) && line.Split(':') is { Length: > 2 } f) return f[2];
        }
        catch (IOException) { }
        return null;
    }
}
