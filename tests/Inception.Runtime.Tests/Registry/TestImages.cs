using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Inception.Runtime.Tests.Images;
using Inception.Runtime.Tests.Integration;

namespace Inception.Runtime.Tests.Registry;

/// <summary>A layer to push: the blob as stored in the registry and the tar it decompresses to.</summary>
public sealed record TestLayer(byte[] Blob, string MediaType, byte[] Tar)
{
    public const string Gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string Zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string Plain = "application/vnd.oci.image.layer.v1.tar";

    public static TestLayer Gzipped(byte[] tar) => new(TarFixture.Gzip(tar), Gzip, tar);
    public static TestLayer Zstded(byte[] tar)
    {
        using var c = new ZstdSharp.Compressor(3);
        return new(c.Wrap(tar).ToArray(), Zstd, tar);
    }
}

/// <summary>Builds images (config + OCI manifest) from layers and puts them into a <see cref="LocalRegistry"/>.</summary>
public static class TestImages
{
    /// <summary>The busybox layer of the test run's image store, as imported by rootfs/busybox.sh (a tar.gz).</summary>
    public static TestLayer BusyboxLayer()
    {
        var root = Incrun.StateRoot;
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "images/index.json")))!;
        var id = index["references"]!["docker.io/library/busybox:latest"]!.GetValue<string>();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "blobs/sha256", id[7..])))!;
        var diffId = config["rootfs"]!["diff_ids"]![0]!.GetValue<string>();
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "layers/sha256", diffId[7..] + ".json")))!;
        var digest = info["blobs"]![0]!["digest"]!.GetValue<string>();
        var blob = File.ReadAllBytes(Path.Combine(root, "content/sha256", digest[7..]));
        using var gz = new System.IO.Compression.GZipStream(new MemoryStream(blob), System.IO.Compression.CompressionMode.Decompress);
        var tar = new MemoryStream();
        gz.CopyTo(tar);
        return new TestLayer(blob, TestLayer.Gzip, tar.ToArray());
    }

    public static byte[] Config(IEnumerable<TestLayer> layers, string arch = "amd64", string[]? cmd = null)
    {
        var diffIds = new JsonArray([.. layers.Select(l => (JsonNode)JsonValue.Create(LocalRegistry.Digest(l.Tar)))]);
        var config = new JsonObject
        {
            ["architecture"] = arch,
            ["os"] = "linux",
            ["created"] = "2024-01-02T03:04:05Z",
            ["config"] = new JsonObject
            {
                ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                ["Cmd"] = new JsonArray([.. (cmd ?? ["sh"]).Select(c => (JsonNode)JsonValue.Create(c))]),
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds },
            ["history"] = new JsonArray([.. layers.Select((_, i) => (JsonNode)new JsonObject { ["created_by"] = $"layer {i}" })]),
        };
        return Encoding.UTF8.GetBytes(config.ToJsonString());
    }

    /// <summary>Uploads layers and config, puts an OCI manifest under <paramref name="tag"/>; returns (manifest digest, manifest bytes).</summary>
    public static (string Digest, byte[] Manifest) Push(LocalRegistry registry, string repo, string? tag, IReadOnlyList<TestLayer> layers,
        string arch = "amd64", string configMediaType = "application/vnd.oci.image.config.v1+json", byte[]? config = null)
    {
        config ??= Config(layers, arch);
        var configDigest = registry.PutBlob(repo, config);
        foreach (var l in layers) registry.PutBlob(repo, l.Blob);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = configMediaType, ["digest"] = configDigest, ["size"] = config.Length },
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)new JsonObject
            {
                ["mediaType"] = l.MediaType, ["digest"] = LocalRegistry.Digest(l.Blob), ["size"] = l.Blob.Length,
            })]),
        };
        var bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        var digest = LocalRegistry.Digest(bytes);
        registry.PutManifest(repo, tag ?? digest, bytes, "application/vnd.oci.image.manifest.v1+json");
        return (digest, bytes);
    }

    /// <summary>An OCI index over (manifest digest, size, arch).</summary>
    public static string PushIndex(LocalRegistry registry, string repo, string tag, params (string Digest, int Size, string Arch)[] entries)
    {
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = e.Digest, ["size"] = e.Size,
                ["platform"] = new JsonObject { ["architecture"] = e.Arch, ["os"] = "linux" },
            })]),
        };
        var bytes = Encoding.UTF8.GetBytes(index.ToJsonString());
        return registry.PutManifest(repo, tag, bytes, "application/vnd.oci.image.index.v1+json");
    }

    /// <summary>A layer over busybox: deletes /etc/group (whiteout), makes /home opaque with one new file.</summary>
    public static byte[] WhiteoutTar() => new TarFixture()
        .Dir("etc/").File("etc/.wh.group", "")
        .Dir("home/").File("home/.wh..wh..opq", "").File("home/new.txt", "new\n")
        .Bytes();

    public static byte[] FileTar(string name, string content) => new TarFixture().File(name, content).Bytes();

    public static JsonNode Json(string text) => JsonNode.Parse(text) ?? throw new JsonException("null");
}
