using System.Text.Json;
using System.Text.Json.Serialization;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Security.Seccomp;

/// <summary>
/// docker's seccomp profile format (<c>--security-opt seccomp=profile.json</c>): the OCI rules plus
/// conditions on the container (<c>includes</c>/<c>excludes</c> of capabilities, architectures and a
/// minimum kernel) and an <c>archMap</c>. <see cref="Resolve"/> turns it into the OCI
/// <c>linux.seccomp</c> of one container, as docker's engine does before it calls the runtime.
/// </summary>
public sealed class SeccompProfile
{
    [JsonPropertyName("defaultAction")] public string DefaultAction { get; set; } = "";
    [JsonPropertyName("defaultErrnoRet")] public uint? DefaultErrnoRet { get; set; }
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }
    [JsonPropertyName("archMap")] public List<ArchMapEntry>? ArchMap { get; set; }
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
    [JsonPropertyName("listenerPath")] public string? ListenerPath { get; set; }
    [JsonPropertyName("syscalls")] public List<ProfileSyscall>? Syscalls { get; set; }

    /// <summary>The architecture names of docker's includes/excludes (Go's GOARCH) for this machine.</summary>
    public const string NativeArch = "amd64";
    public const string NativeScmpArch = "SCMP_ARCH_X86_64";

    /// <summary>Reads a profile file; a missing file or malformed JSON is a one-line error.</summary>
    public static SeccompProfile Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw RuntimeError.Plain($"opening seccomp profile ({path}) failed: {RuntimeError.IoText(e)}");
        }
        return Parse(bytes, path);
    }

    public static SeccompProfile Parse(ReadOnlySpan<byte> json, string shownAs)
    {
        SeccompProfile? profile;
        try { profile = JsonSerializer.Deserialize(json, SeccompJson.Default.SeccompProfile); }
        catch (JsonException e)
        {
            // The exception's own text is a resource key in the trimmed binary: say where instead.
            var at = e.LineNumber is { } line ? $" at line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : "";
            var path = e.Path is { Length: > 1 } p ? $" ({p})" : "";
            throw RuntimeError.Plain($"decoding seccomp profile ({shownAs}) failed: invalid JSON{at}{path}");
        }
        if (profile is null) throw RuntimeError.Plain($"decoding seccomp profile ({shownAs}) failed: the document is null");
        if (profile.DefaultAction.Length == 0) throw RuntimeError.Plain($"seccomp profile ({shownAs}) has no defaultAction");
        if (profile.Architectures is { Count: > 0 } && profile.ArchMap is { Count: > 0 })
            throw RuntimeError.Plain($"seccomp profile ({shownAs}): 'architectures' and 'archMap' were both specified, use either one");
        foreach (var call in profile.Syscalls ?? [])
            if (call.Name is { Length: > 0 } && call.Names is { Count: > 0 })
                throw RuntimeError.Plain($"seccomp profile ({shownAs}): 'name' and 'names' were both specified for {call.Name}, use either one");
        return profile;
    }

    /// <summary>The OCI linux.seccomp of a container with bounding set <paramref name="capabilities"/>
    /// ("CAP_SYS_ADMIN" names) on a kernel of version <paramref name="kernel"/>: rules whose includes
    /// do not all hold, or whose excludes hold, are left out. (<see cref="SeccompCompiler.Validate"/> checks
    /// that the result compiles; the container core compiles it when it hands the spec to init.)</summary>
    public LinuxSeccomp Resolve(IReadOnlyCollection<string> capabilities, Version kernel)
    {
        var result = new LinuxSeccomp
        {
            DefaultAction = DefaultAction,
            DefaultErrnoRet = DefaultErrnoRet,
            Flags = Flags is { Count: > 0 } ? [.. Flags] : null,
            ListenerPath = ListenerPath,
            Syscalls = [],
        };
        if (ArchMap is { Count: > 0 })
        {
            foreach (var entry in ArchMap)
                if (entry.Architecture == NativeScmpArch)
                    result.Architectures = [entry.Architecture, .. entry.SubArchitectures ?? []];
        }
        else if (Architectures is { Count: > 0 }) result.Architectures = [.. Architectures];

        foreach (var call in Syscalls ?? [])
        {
            if (!Applies(call, capabilities, kernel)) continue;
            List<string> names = call.Name is { Length: > 0 } n ? [n] : [.. call.Names ?? []];
            if (names.Count == 0) continue;
            result.Syscalls.Add(new LinuxSyscall
            {
                Names = names, Action = call.Action, ErrnoRet = call.ErrnoRet,
                Args = call.Args is { Count: > 0 } ? [.. call.Args] : null,
            });
        }
        return result;
    }

    static bool Applies(ProfileSyscall call, IReadOnlyCollection<string> caps, Version kernel)
    {
        if (call.Includes is { } inc)
        {
            if (inc.Arches is { Count: > 0 } && !inc.Arches.Contains(NativeArch)) return false;
            if (inc.Caps is { Count: > 0 } && !inc.Caps.All(caps.Contains)) return false;
            if (inc.MinKernel is { Length: > 0 } min && kernel < ParseKernel(min))
                return false;
        }
        if (call.Excludes is { } exc)
        {
            if (exc.Arches is { Count: > 0 } && exc.Arches.Contains(NativeArch)) return false;
            if (exc.Caps is { Count: > 0 } && exc.Caps.Any(caps.Contains)) return false;
        }
        return true;
    }

    /// <summary>"6.1.0-13-amd64" or "4.8" → 6.1 / 4.8 (major.minor).</summary>
    public static Version ParseKernel(string release)
    {
        var parts = release.Split('.', 3);
        static int Num(string s) => int.TryParse(new string([.. s.TakeWhile(char.IsAsciiDigit)]), out var n) ? n : 0;
        if (parts.Length < 2 || Num(parts[0]) == 0) throw RuntimeError.Plain($"seccomp: invalid kernel version \"{release}\"");
        return new Version(Num(parts[0]), Num(parts[1]));
    }

    /// <summary>The running kernel's version (uname -r).</summary>
    public static Version RunningKernel()
    {
        try { return ParseKernel(File.ReadAllText("/proc/sys/kernel/osrelease").Trim()); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return new Version(0, 0); }
    }
}

public sealed class ArchMapEntry
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("subArchitectures")] public List<string>? SubArchitectures { get; set; }
}

public sealed class ProfileSyscall
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("names")] public List<string>? Names { get; set; }
    [JsonPropertyName("action")] public string Action { get; set; } = "";
    [JsonPropertyName("errnoRet")] public uint? ErrnoRet { get; set; }
    [JsonPropertyName("args")] public List<LinuxSeccompArg>? Args { get; set; }
    [JsonPropertyName("comment")] public string? Comment { get; set; }
    [JsonPropertyName("includes")] public ProfileFilter? Includes { get; set; }
    [JsonPropertyName("excludes")] public ProfileFilter? Excludes { get; set; }
}

/// <summary>When a profile rule applies: every listed capability (includes) / any (excludes), the
/// architecture, and (includes only) a minimum kernel version.</summary>
public sealed class ProfileFilter
{
    [JsonPropertyName("caps")] public List<string>? Caps { get; set; }
    [JsonPropertyName("arches")] public List<string>? Arches { get; set; }
    [JsonPropertyName("minKernel")] public string? MinKernel { get; set; }
}

[JsonSourceGenerationOptions(ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(SeccompProfile))]
internal sealed partial class SeccompJson : JsonSerializerContext;
