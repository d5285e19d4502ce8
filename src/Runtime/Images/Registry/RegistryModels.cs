using System.Text.Json.Serialization;

namespace Inception.Runtime.Images.Registry;

/// <summary>A content descriptor (OCI image spec): media type, digest, size, and for index entries the platform.</summary>
internal sealed class Descriptor
{
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("digest")] public string Digest { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("urls")] public List<string>? Urls { get; set; }
    [JsonPropertyName("platform")] public PlatformSpec? Platform { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
}

internal sealed class PlatformSpec
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("os")] public string Os { get; set; } = "";
    [JsonPropertyName("variant")] public string? Variant { get; set; }
}

/// <summary>An image manifest (Docker schema 2 or OCI) or an index / manifest list: the fields of both.</summary>
internal sealed class ManifestDocument
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; }
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("config")] public Descriptor? Config { get; set; }
    [JsonPropertyName("layers")] public List<Descriptor>? Layers { get; set; }
    [JsonPropertyName("manifests")] public List<Descriptor>? Manifests { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
}

internal sealed class TokenResponse
{
    [JsonPropertyName("token")] public string? Token { get; set; }
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
    [JsonPropertyName("expires_in")] public int? ExpiresIn { get; set; }
}

internal sealed class RegistryErrors
{
    [JsonPropertyName("errors")] public List<RegistryErrorEntry>? Errors { get; set; }
}

internal sealed class RegistryErrorEntry
{
    [JsonPropertyName("code")] public string? Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

/// <summary>&lt;state root&gt;/auth.json, docker's config.json "auths" shape: registry → base64(user:password).</summary>
internal sealed class AuthFile
{
    [JsonPropertyName("auths")] public SortedDictionary<string, AuthEntry> Auths { get; set; } = new(StringComparer.Ordinal);
}

internal sealed class AuthEntry
{
    [JsonPropertyName("auth")] public string Auth { get; set; } = "";
}

/// <summary>docker save's manifest.json entries.</summary>
internal sealed class ArchiveManifestEntry
{
    [JsonPropertyName("Config")] public string Config { get; set; } = "";
    [JsonPropertyName("RepoTags")] public List<string>? RepoTags { get; set; }
    [JsonPropertyName("Layers")] public List<string> Layers { get; set; } = [];
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ManifestDocument))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(RegistryErrors))]
[JsonSerializable(typeof(AuthFile))]
[JsonSerializable(typeof(List<ArchiveManifestEntry>))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
