using System.Text;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Run;

public readonly record struct ResolvedUser(uint Uid, uint Gid, uint[] AdditionalGids, string Home);

/// <summary>Resolves docker's <c>-u user[:group]</c> (names or numbers) against the image's /etc/passwd
/// and /etc/group, with docker's messages. Supplementary groups are the groups that list the user.</summary>
public static class UserResolver
{
    public static ResolvedUser Resolve(string? spec, byte[]? passwd, byte[]? group)
    {
        spec = string.IsNullOrEmpty(spec) ? "0" : spec;
        var (userPart, groupPart) = spec.IndexOf(':') is var i and >= 0 ? (spec[..i], spec[(i + 1)..]) : (spec, null);
        var users = Parse(passwd);
        var groups = Parse(group);

        string? name = null;
        uint uid, gid = 0;
        string home = "/";
        if (users.FirstOrDefault(u => u.Length >= 7 && (u[0] == userPart || (uint.TryParse(userPart, out var n0) && u[2] == n0.ToString()))) is { } entry
            && uint.TryParse(entry[2], out uid) && uint.TryParse(entry[3], out gid))
        {
            name = entry[0];
            home = entry[5].Length > 0 ? entry[5] : "/";
        }
        else if (!uint.TryParse(userPart, out uid))
        {
            throw RuntimeError.Plain(passwd is null
                ? $"unable to find user {userPart}: no passwd file in the image"
                : $"unable to find user {userPart}: no matching entries in passwd file");
        }

        if (groupPart is { Length: > 0 })
        {
            if (groups.FirstOrDefault(g => g.Length >= 3 && g[0] == groupPart) is { } ge && uint.TryParse(ge[2], out var g1)) gid = g1;
            else if (uint.TryParse(groupPart, out var g2)) gid = g2;
            else throw RuntimeError.Plain(group is null
                ? $"unable to find group {groupPart}: no group file in the image"
                : $"unable to find group {groupPart}: no matching entries in group file");
        }

        var extra = new List<uint>();
        if (name is not null && groupPart is null)
            foreach (var g in groups)
                if (g.Length >= 4 && g[3].Split(',').Contains(name) && uint.TryParse(g[2], out var gg) && gg != gid && !extra.Contains(gg))
                    extra.Add(gg);
        return new ResolvedUser(uid, gid, [.. extra], home);
    }

    static List<string[]> Parse(byte[]? file)
    {
        var result = new List<string[]>();
        if (file is null) return result;
        foreach (var line in Encoding.UTF8.GetString(file).Split('\n'))
        {
            var l = line.Trim();
            if (l.Length == 0 || l.StartsWith('#')) continue;
            result.Add(l.Split(':'));
        }
        return result;
    }
}
