using Arch = System.Runtime.InteropServices.Architecture;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Images.Registry;

/// <summary>
/// How to reach registries. Plain HTTP is used for localhost, 127.0.0.0/8 and ::1 (after trying HTTPS, as docker
/// does) and for hosts named in <see cref="InsecureRegistries"/> (the --insecure-registry flag, or the
/// comma-separated INCRUN_INSECURE_REGISTRIES environment variable); every other registry is HTTPS only.
/// </summary>
internal sealed record RegistryOptions
{
    public const string InsecureVariable = "INCRUN_INSECURE_REGISTRIES";

    public IReadOnlyCollection<string> InsecureRegistries { get; init; } = [];
    /// <summary>Layers downloaded at once (docker: 3).</summary>
    public int MaxConcurrentDownloads { get; init; } = 3;
    /// <summary>Attempts for a request that fails with a connection error or a 5xx status.</summary>
    public int Attempts { get; init; } = 4;
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    public static RegistryOptions FromEnvironment(IEnumerable<string>? flags = null)
    {
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var h in (Environment.GetEnvironmentVariable(InsecureVariable) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            hosts.Add(h);
        foreach (var h in flags ?? []) hosts.Add(h.Trim());
        return new RegistryOptions { InsecureRegistries = hosts };
    }

    /// <summary>True when plain HTTP may be used for <paramref name="domain"/> (host or host:port).</summary>
    public bool AllowsHttp(string domain)
    {
        if (InsecureRegistries.Contains(domain)) return true;
        var host = HostOf(domain);
        if (InsecureRegistries.Contains(host)) return true;
        return host is "localhost" or "::1" or "[::1]" || host.StartsWith("127.", StringComparison.Ordinal);
    }

    static string HostOf(string domain)
    {
        if (domain.StartsWith('[')) return domain[..(domain.IndexOf(']') + 1)];
        int colon = domain.LastIndexOf(':');
        return colon < 0 ? domain : domain[..colon];
    }
}

/// <summary>An os/architecture[/variant] as docker's --platform takes it.</summary>
internal sealed record Platform(string Os, string Architecture, string? Variant)
{
    public override string ToString() => $"{Os}/{Architecture}{(Variant is null ? "" : "/" + Variant)}";

    /// <summary>linux and the host's architecture in Go's names (amd64, arm64, …).</summary>
    public static Platform Host => new("linux", RuntimeInformation.OSArchitecture switch
    {
        Arch.X64 => "amd64",
        Arch.Arm64 => "arm64",
        Arch.X86 => "386",
        Arch.Arm => "arm",
        Arch.S390x => "s390x",
        Arch.Ppc64le => "ppc64le",
        Arch.RiscV64 => "riscv64",
        Arch.LoongArch64 => "loong64",
        var a => a.ToString().ToLowerInvariant(),
    }, null);

    public static Platform Parse(string text)
    {
        var parts = text.ToLowerInvariant().Split('/');
        if (parts.Length is < 1 or > 3 || parts.Any(p => p.Length == 0))
            throw RuntimeError.Plain($"invalid platform \"{text}\": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8");
        if (parts.Length == 1) return new Platform("linux", Normalize(parts[0]), null);
        var arch = Normalize(parts[1]);
        string? variant = parts.Length == 3 ? parts[2] : null;
        if (arch == "arm64" && variant == "v8") variant = null;
        return new Platform(parts[0], arch, variant);
    }

    static string Normalize(string arch) => arch switch { "x86_64" or "x86-64" => "amd64", "aarch64" => "arm64", "i386" => "386", _ => arch };

    public bool Matches(PlatformSpec? p)
    {
        if (p is null) return false;
        if (!string.Equals(p.Os, Os, StringComparison.OrdinalIgnoreCase) || Normalize(p.Architecture.ToLowerInvariant()) != Architecture) return false;
        var v = p.Variant?.ToLowerInvariant();
        if (Architecture == "arm64" && v == "v8") v = null;
        return Variant is null || v == Variant;
    }
}

/// <summary>Registry credentials in &lt;state root&gt;/auth.json, readable by root only (0600).</summary>
internal sealed class CredentialStore(string stateRoot)
{
    public string Path { get; } = System.IO.Path.Combine(stateRoot, "auth.json");

    /// <summary>The key a registry's credentials are stored under: its domain (docker.io for Docker Hub).</summary>
    public static string Key(string registry)
    {
        var r = registry.Trim();
        foreach (var prefix in (string[])["https://", "http://"])
            if (r.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) r = r[prefix.Length..];
        r = r.TrimEnd('/');
        int slash = r.IndexOf('/');
        if (slash >= 0) r = r[..slash];
        r = r.ToLowerInvariant();
        return r is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" or "" ? ImageReference.DefaultDomain : r;
    }

    public (string User, string Password)? Get(string registry)
    {
        var file = Read();
        if (!file.Auths.TryGetValue(Key(registry), out var e)) return null;
        string text;
        try { text = Encoding.UTF8.GetString(Convert.FromBase64String(e.Auth)); }
        catch (FormatException) { throw RuntimeError.Plain($"credentials for {Key(registry)} in {Path} are not valid base64"); }
        int colon = text.IndexOf(':');
        return colon < 0 ? null : (text[..colon], text[(colon + 1)..]);
    }

    public void Set(string registry, string user, string password)
    {
        var file = Read();
        file.Auths[Key(registry)] = new AuthEntry { Auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")) };
        Write(file);
    }

    /// <summary>Removes the credentials; false when there were none.</summary>
    public bool Remove(string registry)
    {
        var file = Read();
        if (!file.Auths.Remove(Key(registry))) return false;
        Write(file);
        return true;
    }

    AuthFile Read()
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(Path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return new AuthFile(); }
        try { return JsonSerializer.Deserialize(bytes, RegistryJsonContext.Default.AuthFile) ?? new AuthFile(); }
        catch (JsonException e) { throw RuntimeError.Plain($"credentials file {Path} is not valid JSON: {e.Message}"); }
    }

    void Write(AuthFile file)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var tmp = Path + ".tmp-" + Environment.ProcessId;
        // created 0600 before any secret is written to it
        using (var fs = new FileStream(tmp, new FileStreamOptions
               {
                   Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
        {
            File.SetUnixFileMode(fs.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            fs.Write(JsonSerializer.SerializeToUtf8Bytes(file, RegistryJsonContext.Default.AuthFile));
        }
        File.Move(tmp, Path, overwrite: true);
    }
}
