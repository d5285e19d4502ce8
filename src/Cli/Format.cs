using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Inception.Runtime.Cli;

/// <summary>
/// The part of docker's Go templates that scripts use: <c>{{.State.Status}}</c>, <c>{{.Name}}</c>,
/// <c>{{json .Config}}</c>, <c>{{json .}}</c>, plus <c>\t</c> and <c>\n</c>. Fields are looked up in the
/// JSON document that <c>inspect</c> or <c>ps --format json</c> would print.
/// </summary>
static partial class Format
{
    [GeneratedRegex(@"\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}")]
    private static partial Regex Field();

    [GeneratedRegex(@"\{\{[^}]*\}\}")]
    private static partial Regex AnyAction();

    public static string Apply(string template, JsonNode? doc)
    {
        var text = template.Replace("\\t", "\t").Replace("\\n", "\n");
        var result = Field().Replace(text, m =>
        {
            JsonNode? node = doc;
            foreach (var part in m.Groups[2].Value.Split('.', StringSplitOptions.RemoveEmptyEntries))
            {
                if (node is not JsonObject o || !o.TryGetPropertyValue(part, out node))
                    throw Errors.RuntimeError.Plain($"template: can't evaluate field {part}", 1);
            }
            if (m.Groups[1].Success) return node?.ToJsonString() ?? "null";
            return node switch
            {
                null => "<no value>",
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
                JsonValue v => v.ToJsonString(),
                JsonArray a => "[" + string.Join(" ", a.Select(x => x is JsonValue xv && xv.TryGetValue<string>(out var xs) ? xs : x?.ToJsonString())) + "]",
                _ => "map" + node.ToJsonString(),
            };
        });
        if (AnyAction().Match(result) is { Success: true } left)
            throw Errors.RuntimeError.Plain($"template: unsupported action {left.Value} (supported: {{{{.Field.Sub}}}} and {{{{json .Field}}}})", 1);
        return result;
    }
}
