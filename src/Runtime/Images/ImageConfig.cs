using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inception.Runtime.Images;

/// <summary>
/// The OCI / docker image configuration (application/vnd.oci.image.config.v1+json). Top-level fields are
/// lower case, the runtime <see cref="ContainerConfig"/> fields are PascalCase as docker writes them.
/// Fields this type does not model are kept in <see cref="Extra"/> so a config round-trips.
/// </summary>
internal sealed class ImageConfig
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "amd64";
    [JsonPropertyName("os")] public string Os { get; set; } = "linux";
    [JsonPropertyName("variant")] public string? Variant { get; set; }
    [JsonPropertyName("created"), JsonConverter(typeof(Rfc3339Converter))] public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("author")] public string? Author { get; set; }
    [JsonPropertyName("config")] public ContainerConfig Config { get; set; } = new();
    [JsonPropertyName("rootfs")] public RootFs RootFs { get; set; } = new();
    [JsonPropertyName("history")] public List<HistoryEntry>? History { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>The execution defaults of an image (the "config" object).</summary>
internal sealed class ContainerConfig
{
    public string? User { get; set; }
    public List<string>? Env { get; set; }
    public List<string>? Entrypoint { get; set; }
    public List<string>? Cmd { get; set; }
    public string? WorkingDir { get; set; }
    public SortedDictionary<string, EmptyObject>? ExposedPorts { get; set; }
    public SortedDictionary<string, string>? Labels { get; set; }
    public string? StopSignal { get; set; }
    public SortedDictionary<string, EmptyObject>? Volumes { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>The value of <paramref name="key"/> in <see cref="Env"/>, or null.</summary>
    public string? GetEnv(string key)
    {
        if (Env is null) return null;
        foreach (var e in Env)
            if (e.Length > key.Length && e[key.Length] == '=' && e.StartsWith(key, StringComparison.Ordinal))
                return e[(key.Length + 1)..];
        return null;
    }

    /// <summary>Sets <paramref name="key"/> in <see cref="Env"/>, replacing an earlier value in place.</summary>
    public void SetEnv(string key, string value)
    {
        Env ??= [];
        for (int i = 0; i < Env.Count; i++)
        {
            var e = Env[i];
            if ((e.Length > key.Length && e[key.Length] == '=' && e.StartsWith(key, StringComparison.Ordinal)) || e == key)
            {
                Env[i] = $"{key}={value}";
                return;
            }
        }
        Env.Add($"{key}={value}");
    }
}

/// <summary>The JSON <c>{}</c> used as the value of port and volume sets.</summary>
internal sealed class EmptyObject
{
    public static readonly EmptyObject Instance = new();
}

internal sealed class RootFs
{
    [JsonPropertyName("type")] public string Type { get; set; } = "layers";
    [JsonPropertyName("diff_ids")] public List<string> DiffIds { get; set; } = [];
}

internal sealed class HistoryEntry
{
    [JsonPropertyName("created"), JsonConverter(typeof(Rfc3339Converter))] public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("created_by")] public string? CreatedBy { get; set; }
    [JsonPropertyName("author")] public string? Author { get; set; }
    [JsonPropertyName("comment")] public string? Comment { get; set; }
    [JsonPropertyName("empty_layer")] public bool? EmptyLayer { get; set; }
}

/// <summary>The image store's index: canonical reference → image id.</summary>
internal sealed class ImageIndex
{
    [JsonPropertyName("references")] public SortedDictionary<string, string> References { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Every image id in the store, tagged or not.</summary>
    [JsonPropertyName("images")] public SortedSet<string> Images { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Image id → digest of its (platform) manifest in content/sha256, for push and save.</summary>
    [JsonPropertyName("manifests")] public SortedDictionary<string, string> Manifests { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Media types of the OCI image spec and Docker's image manifest v2 schema 2.</summary>
internal static class MediaTypes
{
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string DockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";

    public static bool IsIndex(string? t) => t is OciIndex or DockerList;
    public static bool IsManifest(string? t) => t is OciManifest or DockerManifest;
    public static bool IsLayer(string? t) => t is OciLayer or OciLayerGzip or OciLayerZstd or DockerLayerGzip or DockerForeignLayerGzip
        or "application/vnd.docker.image.rootfs.diff.tar" or "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}

/// <summary>What the extractor records next to each unpacked layer.</summary>
internal sealed class LayerInfo
{
    [JsonPropertyName("diff_id")] public string DiffId { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    /// <summary>The archives (compressed as they were pulled, loaded or imported) kept in content/sha256 for push and save.</summary>
    [JsonPropertyName("blobs")] public List<BlobRef>? Blobs { get; set; }
}

/// <summary>A blob as a manifest names it: digest, media type, size in bytes.</summary>
internal sealed record BlobRef
{
    [JsonPropertyName("mediaType")] public string MediaType { get; init; } = "";
    [JsonPropertyName("digest")] public string Digest { get; init; } = "";
    [JsonPropertyName("size")] public long Size { get; init; }
}

/// <summary>Times as docker writes them: RFC 3339 in UTC with a "Z" (any number of fraction digits is read).</summary>
internal sealed class Rfc3339Converter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString() ?? throw new JsonException("expected an RFC 3339 time");
        // .NET parses at most 7 fraction digits; Go writes 9
        int dot = text.IndexOf('.'), end = dot;
        if (dot > 0)
        {
            while (end + 1 < text.Length && char.IsAsciiDigit(text[end + 1])) end++;
            if (end - dot > 7) text = text[..(dot + 8)] + text[(end + 1)..];
        }
        if (!DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var value))
            throw new JsonException($"\"{text}\" is not an RFC 3339 time");
        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture));
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(LayerInfo))]
internal sealed partial class ImageJsonContext : JsonSerializerContext;
