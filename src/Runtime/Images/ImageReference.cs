using System.Text.RegularExpressions;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Images;

/// <summary>
/// An image reference normalised the way docker does (distribution/reference): <c>busybox</c> is
/// <c>docker.io/library/busybox:latest</c>, <c>me/x:1</c> is <c>docker.io/me/x:1</c>, a first component
/// with a dot, a colon or equal to <c>localhost</c> is a registry domain.
/// </summary>
internal sealed partial record ImageReference(string Domain, string Path, string? Tag, string? Digest)
{
    public const string DefaultDomain = "docker.io";
    const string LegacyDefaultDomain = "index.docker.io";
    const string OfficialRepoPrefix = "library/";

    /// <summary>The familiar repository name as docker prints it: <c>busybox</c>, <c>me/x</c>, <c>localhost:5000/a/b</c>.</summary>
    public string Repository =>
        Domain == DefaultDomain
            ? (Path.StartsWith(OfficialRepoPrefix, StringComparison.Ordinal) && Path.IndexOf('/', OfficialRepoPrefix.Length) < 0
                ? Path[OfficialRepoPrefix.Length..] : Path)
            : $"{Domain}/{Path}";

    /// <summary>The fully qualified name: <c>docker.io/library/busybox:latest</c>.</summary>
    public string Canonical => $"{Domain}/{Path}{Suffix}";

    /// <summary>The short name docker prints: <c>busybox:latest</c>.</summary>
    public string Familiar => Repository + Suffix;

    string Suffix => (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    public override string ToString() => Familiar;

    /// <summary>Parses and normalises <paramref name="text"/>; a reference with neither tag nor digest gets <c>latest</c>.</summary>
    public static ImageReference Parse(string text)
    {
        if (!TryParse(text, out var reference, out var error))
            throw RuntimeError.Plain($"invalid reference format: {error}");
        return reference;
    }

    public static bool TryParse(string text, out ImageReference reference, out string error)
    {
        reference = null!;
        error = "";
        if (string.IsNullOrEmpty(text)) { error = "empty reference"; return false; }
        if (text.Length > 255) { error = $"reference \"{Shorten(text)}\" is longer than 255 characters"; return false; }

        var m = ReferenceRegex().Match(text);
        if (!m.Success)
        {
            var lower = text.ToLowerInvariant();
            error = lower != text && ReferenceRegex().IsMatch(lower)
                ? $"repository name \"{Shorten(text)}\" must be lowercase"
                : $"\"{Shorten(text)}\" is not a valid image reference";
            return false;
        }
        string name = m.Groups["name"].Value;
        string? tag = m.Groups["tag"].Success ? m.Groups["tag"].Value : null;
        string? digest = m.Groups["digest"].Success ? m.Groups["digest"].Value : null;
        if (digest is not null && digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.Length != 7 + 64)
        {
            error = $"digest \"{digest}\" must be sha256 with 64 hexadecimal digits";
            return false;
        }
        if (digest is not null) digest = digest.ToLowerInvariant();

        string domain, path;
        int slash = name.IndexOf('/');
        string first = slash < 0 ? name : name[..slash];
        if (slash < 0 || (first.IndexOfAny(['.', ':']) < 0 && first != "localhost" && first.ToLowerInvariant() == first))
        {
            domain = DefaultDomain;
            path = name;
        }
        else
        {
            domain = first;
            path = name[(slash + 1)..];
        }
        if (domain == LegacyDefaultDomain) domain = DefaultDomain;
        if (domain == DefaultDomain && !path.Contains('/')) path = OfficialRepoPrefix + path;
        if (!PathRegex().IsMatch(path))
        {
            error = path.ToLowerInvariant() != path
                ? $"repository name \"{Shorten(path)}\" must be lowercase"
                : $"\"{Shorten(text)}\" is not a valid image reference";
            return false;
        }
        if (tag is null && digest is null) tag = "latest";
        reference = new ImageReference(domain, path, tag, digest);
        return true;
    }

    static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";

    // distribution/reference grammar: [domain/]path-component(/path-component)*[:tag][@digest]
    const string Component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    const string DomainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    const string DomainPart = "(?:" + DomainComponent + "(?:\\." + DomainComponent + ")*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?";
    const string Name = "(?:" + DomainPart + "/)?" + Component + "(?:/" + Component + ")*";
    const string TagPart = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
    const string DigestPart = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

    [GeneratedRegex("^(?<name>" + Name + ")(?::(?<tag>" + TagPart + "))?(?:@(?<digest>" + DigestPart + "))?$", RegexOptions.CultureInvariant)]
    private static partial Regex ReferenceRegex();

    [GeneratedRegex("^" + Component + "(?:/" + Component + ")*$", RegexOptions.CultureInvariant)]
    private static partial Regex PathRegex();
}
