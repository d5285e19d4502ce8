using System.Text;
using System.Text.Json;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Images;

/// <summary>
/// Applies the Dockerfile instructions docker accepts in <c>import --change</c> / <c>commit --change</c> to an
/// image config. Variable substitution ($VAR) is not performed.
/// </summary>
internal static class DockerfileChange
{
    const string Supported = "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, WORKDIR";

    /// <summary>Applies every change in order. As in a Dockerfile, ENTRYPOINT clears CMD unless a CMD came earlier.</summary>
    public static void ApplyAll(ImageConfig config, IEnumerable<string> changes)
    {
        bool cmdSet = false;
        foreach (var change in changes) Apply(config, change, ref cmdSet);
    }

    /// <summary>Applies one instruction such as <c>CMD ["sh"]</c> or <c>ENV A=1 B=2</c>.</summary>
    public static void Apply(ImageConfig config, string change)
    {
        bool cmdSet = false;
        Apply(config, change, ref cmdSet);
    }

    static void Apply(ImageConfig config, string change, ref bool cmdSet)
    {
        var text = change.Trim();
        int sp = 0;
        while (sp < text.Length && !char.IsWhiteSpace(text[sp])) sp++;
        var instruction = text[..sp].ToUpperInvariant();
        var rest = text[sp..].Trim();
        var c = config.Config;
        switch (instruction)
        {
            case "CMD":
                c.Cmd = Command(instruction, rest);
                cmdSet = true;
                break;
            case "ENTRYPOINT":
                c.Entrypoint = Command(instruction, rest);
                if (!cmdSet) c.Cmd = null;
                break;
            case "ENV":
                foreach (var (k, v) in Pairs(instruction, rest)) c.SetEnv(k, v);
                break;
            case "LABEL":
                c.Labels ??= new(StringComparer.Ordinal);
                foreach (var (k, v) in Pairs(instruction, rest)) c.Labels[k] = v;
                break;
            case "WORKDIR":
                var dir = Single(instruction, rest);
                c.WorkingDir = Rootfs.ContainerPath.Clean(dir.StartsWith('/') ? dir : (c.WorkingDir ?? "/") + "/" + dir);
                break;
            case "USER":
                c.User = Single(instruction, rest);
                break;
            case "STOPSIGNAL":
                c.StopSignal = Single(instruction, rest);
                break;
            case "EXPOSE":
                var ports = Words(rest);
                if (ports.Count == 0) throw Bad(instruction, "requires at least one port");
                c.ExposedPorts ??= new(StringComparer.Ordinal);
                foreach (var p in ports)
                    foreach (var port in ExpandPort(p)) c.ExposedPorts[port] = EmptyObject.Instance;
                break;
            default:
                throw RuntimeError.Plain($"import --change: unsupported instruction \"{text[..sp]}\" (supported: {Supported})");
        }
    }

    static RuntimeError Bad(string instruction, string why) => RuntimeError.Plain($"import --change: {instruction} {why}");

    /// <summary>JSON array (exec) form, or shell form wrapped as <c>/bin/sh -c "..."</c>.</summary>
    static List<string> Command(string instruction, string rest)
    {
        if (rest.StartsWith('['))
        {
            try
            {
                var doc = JsonDocument.Parse(rest);
                if (doc.RootElement.ValueKind == JsonValueKind.Array)
                {
                    var list = new List<string>();
                    foreach (var e in doc.RootElement.EnumerateArray())
                    {
                        if (e.ValueKind != JsonValueKind.String) throw Bad(instruction, $"array must hold only strings: {rest}");
                        list.Add(e.GetString()!);
                    }
                    return list;
                }
            }
            catch (JsonException) { /* not JSON: docker falls back to the shell form */ }
        }
        if (rest.Length == 0) throw Bad(instruction, "requires at least one argument");
        return ["/bin/sh", "-c", rest];
    }

    static string Single(string instruction, string rest)
    {
        var words = Words(rest);
        if (words.Count != 1) throw Bad(instruction, $"requires exactly one argument, got \"{rest}\"");
        return words[0];
    }

    /// <summary><c>k=v k2="v 2"</c>, or the legacy single pair <c>k the value</c>.</summary>
    static List<(string, string)> Pairs(string instruction, string rest)
    {
        var result = new List<(string, string)>();
        var words = Words(rest, keepQuotesOf: out var firstRaw);
        if (words.Count == 0) throw Bad(instruction, "requires at least one argument");
        if (!firstRaw.Contains('='))
        {
            // legacy form: the first word is the key, the rest of the line (trimmed) the value
            int sp = 0;
            while (sp < rest.Length && !char.IsWhiteSpace(rest[sp])) sp++;
            var value = rest[sp..].Trim();
            if (value.Length == 0) throw Bad(instruction, $"names \"{words[0]}\" without a value");
            result.Add((words[0], Unquote(value)));
            return result;
        }
        foreach (var w in words)
        {
            int eq = w.IndexOf('=');
            if (eq <= 0) throw Bad(instruction, $"expects key=value pairs, got \"{w}\"");
            result.Add((w[..eq], w[(eq + 1)..]));
        }
        return result;
    }

    static string Unquote(string s) => Words(s) is { Count: 1 } one ? one[0] : s;

    static List<string> Words(string s) => Words(s, out _);

    /// <summary>Splits on blanks outside quotes, removing quotes and backslash escapes.</summary>
    static List<string> Words(string s, out string keepQuotesOf)
    {
        var words = new List<string>();
        var sb = new StringBuilder();
        var raw = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        keepQuotesOf = "";
        for (int i = 0; i < s.Length; i++)
        {
            char ch = s[i];
            if (quote == '\0' && char.IsWhiteSpace(ch))
            {
                if (inWord) { words.Add(sb.ToString()); if (words.Count == 1) keepQuotesOf = raw.ToString(); sb.Clear(); inWord = false; }
                continue;
            }
            inWord = true;
            if (words.Count == 0) raw.Append(ch);
            if (ch == '\\' && quote != '\'' && i + 1 < s.Length) { sb.Append(s[++i]); continue; }
            if (quote == '\0' && (ch == '"' || ch == '\'')) { quote = ch; continue; }
            if (ch == quote) { quote = '\0'; continue; }
            sb.Append(ch);
        }
        if (quote != '\0') throw RuntimeError.Plain($"import --change: unterminated quote in \"{s}\"");
        if (inWord) { words.Add(sb.ToString()); if (words.Count == 1) keepQuotesOf = raw.ToString(); }
        return words;
    }

    /// <summary><c>80</c> → 80/tcp; <c>8000-8002/udp</c> → three ports.</summary>
    static IEnumerable<string> ExpandPort(string spec)
    {
        var slash = spec.IndexOf('/');
        var proto = slash < 0 ? "tcp" : spec[(slash + 1)..].ToLowerInvariant();
        var range = slash < 0 ? spec : spec[..slash];
        if (proto is not ("tcp" or "udp" or "sctp")) throw Bad("EXPOSE", $"has an invalid protocol in \"{spec}\"");
        var dash = range.IndexOf('-');
        if (!ushort.TryParse(dash < 0 ? range : range[..dash], out var lo) || lo == 0 ||
            !ushort.TryParse(dash < 0 ? range : range[(dash + 1)..], out var hi) || hi < lo)
            throw Bad("EXPOSE", $"has an invalid port \"{spec}\"");
        for (int p = lo; p <= hi; p++) yield return $"{p}/{proto}";
    }

}
