using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Images.Registry;

namespace Inception.Runtime.Images;

/// <summary>
/// <c>incrun save</c> / <c>incrun load</c>. Save writes what docker 25+ writes: a docker-archive (manifest.json with
/// Config, RepoTags, Layers) whose files are an OCI image layout (oci-layout, index.json, blobs/sha256/…), so docker
/// load, podman, skopeo and incrun read it. Load reads docker-archives (old docker's &lt;id&gt;/layer.tar too, compressed
/// or not) and OCI layout archives. Archive member names are never used as paths: members are copied to numbered
/// files in a temp dir of the state root and looked up by their cleaned names; every blob is verified.
/// </summary>
internal static class ImageArchive
{
    public static void Save(ImageStore store, IReadOnlyList<string> names, Stream output)
    {
        if (names.Count == 0) throw RuntimeError.Plain("save: no image given");
        var images = new List<(Image Image, List<string> Tags)>();
        foreach (var n in names)
        {
            var image = store.Resolve(n);
            bool byName = ImageReference.TryParse(n, out var r, out _) && !IsIdLike(n, image);
            var entry = images.FirstOrDefault(x => x.Image.Id == image.Id);
            if (entry.Image is null) images.Add(entry = (image, []));
            if (byName && r.Digest is null && !entry.Tags.Contains(r.Familiar)) entry.Tags.Add(r.Familiar);
        }
        using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        var written = new HashSet<string>(StringComparer.Ordinal);
        var archiveManifest = new List<ArchiveManifestEntry>();
        var index = new ManifestDocument { SchemaVersion = 2, MediaType = MediaTypes.OciIndex, Manifests = [] };
        foreach (var (image, tags) in images)
        {
            var (bytes, mediaType, doc) = ImagePusher.ManifestFor(store, image);
            foreach (var d in doc.Layers!.Append(doc.Config!))
                if (written.Add(d.Digest)) AddFile(tar, "blobs/sha256/" + d.Digest[7..], store.FindBlob(d.Digest)!);
            var manifestDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (written.Add(manifestDigest)) AddBytes(tar, "blobs/sha256/" + manifestDigest[7..], bytes);
            archiveManifest.Add(new ArchiveManifestEntry
            {
                Config = "blobs/sha256/" + image.Id[7..], RepoTags = tags, Layers = [.. doc.Layers!.Select(l => "blobs/sha256/" + l.Digest[7..])],
            });
            var refs = tags.Count == 0 ? [null] : tags.Select(t => (string?)t);
            foreach (var t in refs)
                index.Manifests.Add(new Descriptor
                {
                    MediaType = mediaType, Digest = manifestDigest, Size = bytes.Length,
                    Annotations = t is null ? null : new()
                    {
                        ["io.containerd.image.name"] = ImageReference.Parse(t).Canonical,
                        ["org.opencontainers.image.ref.name"] = ImageReference.Parse(t).Tag ?? "latest",
                    },
                });
        }
        AddBytes(tar, "oci-layout", """{"imageLayoutVersion":"1.0.0"}"""u8.ToArray());
        AddBytes(tar, "index.json", JsonSerializer.SerializeToUtf8Bytes(index, RegistryJsonContext.Default.ManifestDocument));
        AddBytes(tar, "manifest.json", JsonSerializer.SerializeToUtf8Bytes(archiveManifest, RegistryJsonContext.Default.ListArchiveManifestEntry));
    }

    static bool IsIdLike(string name, Image image)
    {
        var hex = name.StartsWith("sha256:", StringComparison.Ordinal) ? name[7..] : name;
        return hex.Length >= 4 && image.Id[7..].StartsWith(hex, StringComparison.Ordinal);
    }

    static void AddFile(TarWriter tar, string name, string path)
    {
        using var fs = File.OpenRead(path);
        var e = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = fs, Mode = (UnixFileMode)0x1A4, ModificationTime = DateTimeOffset.UnixEpoch };
        tar.WriteEntry(e);
    }

    static void AddBytes(TarWriter tar, string name, byte[] bytes)
    {
        var e = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes), Mode = (UnixFileMode)0x1A4, ModificationTime = DateTimeOffset.UnixEpoch };
        tar.WriteEntry(e);
    }

    /// <summary>Loads every image of the archive; returns docker's lines ("Loaded image: busybox:latest", "Loaded image ID: sha256:…").</summary>
    public static List<string> Load(ImageStore store, Stream input)
    {
        var tmp = Path.Combine(store.Root, "tmp-load-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        Directory.CreateDirectory(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var files = Unpack(input, tmp);
            using var _ = store.WriterLock();
            if (files.ContainsKey("manifest.json")) return LoadDockerArchive(store, files);
            if (files.ContainsKey("index.json")) return LoadOciLayout(store, files);
            throw RuntimeError.Plain("load: the archive has neither manifest.json (docker-archive) nor index.json (OCI layout)");
        }
        finally
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Copies the archive's regular files to numbered files; returns cleaned member name → file (symlinks resolved).</summary>
    static Dictionary<string, string> Unpack(Stream input, string tmp)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        var links = new List<(string Name, string Target)>();
        int n = 0;
        try
        {
            Stream raw = LayerStreams.Decompress(input);
            using var reader = new TarReader(raw);
            while (reader.GetNextEntry() is { } e)
            {
                var name = LayerExtractor.CleanName(e.Name, e.Name);
                switch (e.EntryType)
                {
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        var path = Path.Combine(tmp, (n++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                        using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                            e.DataStream?.CopyTo(fs);
                        files[name] = path;
                        break;
                    case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                        var dir = e.EntryType == TarEntryType.HardLink ? "" : (name.LastIndexOf('/') is var s and > 0 ? name[..s] + "/" : "");
                        links.Add((name, LayerExtractor.CleanName(e.LinkName.StartsWith('/') ? e.LinkName : dir + e.LinkName, e.Name)));
                        break;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException)
        {
            throw RuntimeError.Plain($"load: not a valid tar archive: {e.Message}");
        }
        foreach (var (name, target) in links)
            if (files.TryGetValue(target, out var path)) files[name] = path;
        return files;
    }

    static byte[] Read(Dictionary<string, string> files, string name, int limit = 16 << 20)
    {
        var key = LayerExtractor.CleanName(name, name);
        if (!files.TryGetValue(key, out var path)) throw RuntimeError.Plain($"load: the archive has no {name}");
        if (new FileInfo(path).Length > limit) throw RuntimeError.Plain($"load: {name} is larger than {limit} bytes");
        return File.ReadAllBytes(path);
    }

    static List<string> LoadDockerArchive(ImageStore store, Dictionary<string, string> files)
    {
        List<ArchiveManifestEntry>? entries;
        try { entries = JsonSerializer.Deserialize(Read(files, "manifest.json"), RegistryJsonContext.Default.ListArchiveManifestEntry); }
        catch (JsonException e) { throw RuntimeError.Plain($"load: manifest.json is not valid: {e.Message}"); }
        var lines = new List<string>();
        foreach (var entry in entries ?? [])
        {
            var configBytes = Read(files, entry.Config);
            var config = ImageStore.ParseConfig(configBytes, entry.Config);
            if (config.RootFs.DiffIds.Count != entry.Layers.Count)
                throw RuntimeError.Plain($"load: {entry.Config} lists {config.RootFs.DiffIds.Count} layers, manifest.json {entry.Layers.Count}");
            for (int i = 0; i < entry.Layers.Count; i++)
            {
                var diffId = config.RootFs.DiffIds[i];
                if (store.HasLayer(diffId)) continue;
                var key = LayerExtractor.CleanName(entry.Layers[i], entry.Layers[i]);
                if (!files.TryGetValue(key, out var path)) throw RuntimeError.Plain($"load: the archive has no {entry.Layers[i]}");
                using var fs = File.OpenRead(path);
                // a blobs/sha256/<hex> name is a digest to verify
                BlobRef? expected = key.StartsWith("blobs/sha256/", StringComparison.Ordinal) && key.Length == 13 + 64
                    ? new BlobRef { Digest = "sha256:" + key[13..], Size = fs.Length, MediaType = "" } : null;
                store.UnpackLayer(fs, expected is null ? null : expected with { MediaType = MediaTypeOf(path) }, diffId);
            }
            var id = store.StoreConfigBytes(configBytes);
            if (entry.RepoTags is { Count: > 0 } tags)
                foreach (var t in tags)
                {
                    store.Tag(ImageReference.Parse(t), id);
                    lines.Add($"Loaded image: {t}");
                }
            else lines.Add($"Loaded image ID: {id}");
        }
        return lines;
    }

    static string MediaTypeOf(string path)
    {
        var head = new byte[8];
        using (var fs = File.OpenRead(path)) _ = fs.Read(head);
        return ImageStore.LayerMediaType(LayerStreams.Compression(head));
    }

    static List<string> LoadOciLayout(ImageStore store, Dictionary<string, string> files)
    {
        var lines = new List<string>();
        var index = ImagePuller.ParseManifest(Read(files, "index.json"), MediaTypes.OciIndex);
        foreach (var d in index.Manifests ?? [])
        {
            var name = d.Annotations?.GetValueOrDefault("io.containerd.image.name")
                ?? (d.Annotations?.GetValueOrDefault("org.opencontainers.image.ref.name") is { } rn && (rn.Contains('/') || rn.Contains(':')) ? rn : null);
            var (manifestBytes, manifest, digest) = Blob(files, d, MediaTypes.OciManifest);
            if (MediaTypes.IsIndex(manifest.MediaType ?? d.MediaType))
            {
                var platform = Platform.Host;
                var pick = manifest.Manifests?.FirstOrDefault(m => platform.Matches(m.Platform))
                    ?? throw RuntimeError.Plain($"load: no manifest for {platform} in index {d.Digest}");
                (manifestBytes, manifest, digest) = Blob(files, pick, MediaTypes.OciManifest);
            }
            if (manifest.Config is null || manifest.Layers is null) throw RuntimeError.Plain($"load: manifest {digest} has no config or layers");
            var configBytes = Read(files, "blobs/sha256/" + Check(manifest.Config.Digest)[7..]);
            var config = ImageStore.ParseConfig(configBytes, manifest.Config.Digest);
            if (config.RootFs.DiffIds.Count != manifest.Layers.Count) throw RuntimeError.Plain($"load: manifest {digest}: layer count differs from the config's");
            for (int i = 0; i < manifest.Layers.Count; i++)
            {
                var l = manifest.Layers[i];
                if (!MediaTypes.IsLayer(l.MediaType)) throw RuntimeError.Plain($"load: layer {l.Digest} has unsupported media type \"{l.MediaType}\"");
                if (store.HasLayer(config.RootFs.DiffIds[i])) continue;
                if (!files.TryGetValue("blobs/sha256/" + Check(l.Digest)[7..], out var path)) throw RuntimeError.Plain($"load: the archive has no blob {l.Digest}");
                using var fs = File.OpenRead(path);
                store.UnpackLayer(fs, new BlobRef { Digest = l.Digest, MediaType = l.MediaType!, Size = l.Size }, config.RootFs.DiffIds[i]);
            }
            var id = store.StoreConfigBytes(configBytes, manifest.Config.Digest);
            store.PutContent(manifestBytes);
            store.MutateIndex(ix => ix.Manifests[id] = digest);
            if (name is not null)
            {
                var r = ImageReference.Parse(name);
                store.Tag(r, id);
                lines.Add($"Loaded image: {r.Familiar}");
            }
            else lines.Add($"Loaded image ID: {id}");
        }
        return lines;
    }

    static (byte[] Bytes, ManifestDocument Doc, string Digest) Blob(Dictionary<string, string> files, Descriptor d, string fallbackType)
    {
        var bytes = Read(files, "blobs/sha256/" + Check(d.Digest)[7..], 4 << 20);
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (digest != d.Digest) throw RuntimeError.Plain($"load: blob {d.Digest}: digest mismatch ({digest})");
        return (bytes, ImagePuller.ParseManifest(bytes, d.MediaType ?? fallbackType), digest);
    }

    static string Check(string digest)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || !digest[7..].All(char.IsAsciiHexDigitLower))
            throw RuntimeError.Plain($"load: unsupported digest \"{digest}\"");
        return digest;
    }
}
