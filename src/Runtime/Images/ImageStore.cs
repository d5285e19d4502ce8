using System.Security.Cryptography;
using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using static Inception.Runtime.Native.Libc;

namespace Inception.Runtime.Images;

/// <summary>An image in the store. Tags and size are read on first use: `run` needs neither.</summary>
/// <param name="Id">"sha256:&lt;hex&gt;" of the config blob</param>
/// <param name="LayerDirs">absolute paths of the unpacked layers, bottom layer first</param>
/// <param name="repoTags">familiar names tagged to this image ("busybox:latest"), read on first use</param>
/// <param name="size">bytes of file content in all layers, read on first use</param>
internal sealed class Image(string Id, ImageConfig Config, IReadOnlyList<string> LayerDirs, Func<IReadOnlyList<string>> repoTags, Func<long> size,
    Func<IReadOnlyList<string>>? repoDigests = null)
{
    readonly Lazy<IReadOnlyList<string>> _repoTags = new(repoTags, LazyThreadSafetyMode.None);
    readonly Lazy<IReadOnlyList<string>> _repoDigests = new(repoDigests ?? (() => []), LazyThreadSafetyMode.None);
    readonly Lazy<long> _size = new(size, LazyThreadSafetyMode.None);

    public string Id { get; } = Id;
    public ImageConfig Config { get; } = Config;
    public IReadOnlyList<string> LayerDirs { get; } = LayerDirs;
    public IReadOnlyList<string> RepoTags => _repoTags.Value;
    /// <summary>"busybox@sha256:…": the manifest digests this image was pulled or pushed as.</summary>
    public IReadOnlyList<string> RepoDigests => _repoDigests.Value;
    public long Size => _size.Value;
    public string ShortId => Id[7..19];
}

/// <summary>One row of <c>incrun images</c>: an image under one of its tags, or &lt;none&gt; when untagged.</summary>
internal sealed record ImageSummary(string Repository, string Tag, string Id, DateTimeOffset? Created, long Size, string? Digest = null)
{
    public string ShortId => Id[7..19];
}

/// <summary>
/// Images on disk. Layout under the root (default /var/lib/incrun):
/// <c>blobs/sha256/&lt;hex&gt;</c> image config JSON named by the sha256 of its bytes (the image id);
/// <c>layers/sha256/&lt;hex&gt;/</c> an unpacked layer keyed by its diff id, shared by every image using it,
/// with <c>layers/sha256/&lt;hex&gt;.json</c> beside it recording its size;
/// <c>content/sha256/&lt;hex&gt;</c> layer archives (as pulled, loaded or imported) and manifests, by digest;
/// <c>images/index.json</c> canonical reference (name:tag or name@digest) → image id, and the set of image ids,
/// rewritten atomically under <c>images/lock</c>. Writers (pull, load, import) hold <c>images/gc.lock</c> shared,
/// garbage collection (rmi, prune) holds it exclusively, so nothing is collected while it is being written.
/// </summary>
internal sealed partial class ImageStore(string root = ImageStore.DefaultRoot)
{
    public const string DefaultRoot = "/var/lib/incrun";

    public string Root { get; } = Path.GetFullPath(root);
    string BlobDir => Path.Combine(Root, "blobs", "sha256");
    string LayersDir => Path.Combine(Root, "layers");
    string ImagesDir => Path.Combine(Root, "images");
    string IndexPath => Path.Combine(ImagesDir, "index.json");
    string ContentDir => Path.Combine(Root, "content", "sha256");

    public string LayerDir(string diffId) => Path.Combine(LayersDir, "sha256", Hex(diffId));

    /// <summary>
    /// Creates an image from one filesystem tarball (plain or gzip), like <c>docker import</c>: the layer is
    /// unpacked once (an identical layer already stored is reused), <paramref name="changes"/> are Dockerfile
    /// instructions applied to the config, and <paramref name="reference"/> (when given) is moved to the new image.
    /// </summary>
    public Image Import(Stream tar, string? reference, IEnumerable<string> changes)
    {
        var name = reference is null ? null : ImageReference.Parse(reference);
        var now = DateTimeOffset.UtcNow;
        var config = new ImageConfig { Created = now };
        DockerfileChange.ApplyAll(config, changes); // before unpacking: a bad --change fails fast
        using var _ = WriterLock();
        var layer = UnpackLayer(tar);
        config.RootFs.DiffIds.Add(layer.DiffId);
        config.History = [new HistoryEntry { Created = now, CreatedBy = "incrun import", Comment = "Imported from tarball" }];
        var id = StoreConfig(config);
        if (name is not null) Tag(name, id);
        return Load(id);
    }

    /// <summary>
    /// Unpacks a layer archive into a temporary directory and moves it to layers/sha256/&lt;diff id&gt;; the archive
    /// itself is kept in content/sha256 (for push and save). With <paramref name="expected"/> (a manifest's layer
    /// descriptor) the archive must have that digest, with <paramref name="expectedDiffId"/> (the config's diff id)
    /// its uncompressed tar must have that one: otherwise nothing is kept and the error names both digests.
    /// </summary>
    public LayerResult UnpackLayer(Stream archive, BlobRef? expected = null, string? expectedDiffId = null, Action<long>? progress = null)
    {
        var shaDir = Path.Combine(LayersDir, "sha256");
        Directory.CreateDirectory(shaDir);
        Directory.CreateDirectory(ContentDir);
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var tmp = Path.Combine(LayersDir, "tmp-" + suffix);
        var blobTmp = Path.Combine(ContentDir, ".tmp-" + suffix);
        Directory.CreateDirectory(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        LayerResult result;
        BlobRef blob;
        try
        {
            using (var copy = new FileStream(blobTmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var tee = new BlobTee(archive, copy, progress))
            {
                result = LayerExtractor.Extract(tee, tmp);
                tee.Drain();
                var digest = tee.Digest();
                if (expected is not null && digest != expected.Digest)
                    throw RuntimeError.Plain($"layer {expected.Digest}: digest mismatch: the blob received has {digest} ({tee.BytesRead} bytes)");
                blob = new BlobRef { Digest = digest, Size = tee.BytesRead, MediaType = expected?.MediaType ?? LayerMediaType(tee.Compression) };
            }
            if (expectedDiffId is not null && result.DiffId != expectedDiffId)
                throw RuntimeError.Plain($"layer {blob.Digest}: its uncompressed content has diff id {result.DiffId}, the image config says {expectedDiffId}");
            File.Move(blobTmp, ContentPath(blob.Digest), overwrite: true);
        }
        catch
        {
            RemoveQuietly(tmp);
            try { File.Delete(blobTmp); } catch (IOException) { }
            throw;
        }
        var info = ReadLayerInfo(result.DiffId) ?? new LayerInfo { DiffId = result.DiffId, Size = result.Size };
        info.Size = result.Size;
        info.Blobs ??= [];
        if (!info.Blobs.Any(b => b.Digest == blob.Digest)) info.Blobs.Add(blob);
        WriteAtomically(LayerDir(result.DiffId) + ".json", JsonSerializer.SerializeToUtf8Bytes(info, ImageJsonContext.Default.LayerInfo));
        var final = LayerDir(result.DiffId);
        if (Directory.Exists(final)) RemoveQuietly(tmp);
        else
        {
            try { Directory.Move(tmp, final); }
            catch (IOException) when (Directory.Exists(final)) { RemoveQuietly(tmp); } // a concurrent import won
        }
        return result;
    }

    /// <summary>The OCI media type of a layer archive with this compression ("gzip", "zstd", "").</summary>
    public static string LayerMediaType(string compression) => compression switch
    {
        "gzip" => MediaTypes.OciLayerGzip,
        "zstd" => MediaTypes.OciLayerZstd,
        _ => MediaTypes.OciLayer,
    };

    /// <summary>True when the layer with this diff id is unpacked (a pull skips it).</summary>
    public bool HasLayer(string diffId) => Directory.Exists(LayerDir(diffId));

    public LayerInfo? ReadLayerInfo(string diffId)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(LayerDir(diffId) + ".json"), ImageJsonContext.Default.LayerInfo); }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    /// <summary>Path of a blob in content/sha256 (layer archives, manifests).</summary>
    public string ContentPath(string digest) => Path.Combine(ContentDir, Hex(digest));

    /// <summary>Path of any blob by digest: an image config in blobs/sha256, else content/sha256.</summary>
    public string? FindBlob(string digest)
    {
        var config = Path.Combine(BlobDir, Hex(digest));
        if (File.Exists(config)) return config;
        var content = ContentPath(digest);
        return File.Exists(content) ? content : null;
    }

    /// <summary>Stores bytes (a manifest) in content/sha256 by their digest and returns it.</summary>
    public string PutContent(byte[] bytes)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        Directory.CreateDirectory(ContentDir);
        var path = ContentPath(digest);
        if (!File.Exists(path)) WriteAtomically(path, bytes);
        return digest;
    }

    /// <summary>
    /// Stores an image config received from a registry or an archive: its sha256 must be <paramref name="digest"/>
    /// (when given), it must be valid JSON, and every layer it names must be unpacked already. Returns the image id.
    /// </summary>
    public string StoreConfigBytes(byte[] bytes, string? digest = null)
    {
        var hex = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (digest is not null && "sha256:" + hex != digest)
            throw RuntimeError.Plain($"image config {digest}: digest mismatch: the blob received has sha256:{hex}");
        var config = ParseConfig(bytes, "sha256:" + hex);
        foreach (var d in config.RootFs.DiffIds)
            if (!HasLayer(d)) throw RuntimeError.Plain($"image sha256:{hex[..12]}: layer {d} is missing");
        Directory.CreateDirectory(BlobDir);
        var path = Path.Combine(BlobDir, hex);
        if (!File.Exists(path)) WriteAtomically(path, bytes);
        MutateIndex(index => index.Images.Add("sha256:" + hex));
        return "sha256:" + hex;
    }

    public static ImageConfig ParseConfig(byte[] bytes, string what)
    {
        try
        {
            var config = JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig) ?? throw new JsonException("null");
            foreach (var d in config.RootFs.DiffIds) Hex(d);
            return config;
        }
        catch (JsonException e) { throw RuntimeError.Plain($"image config {what} is not valid JSON: {e.Message}"); }
    }

    /// <summary>The raw config bytes of an image (the blob named by its id).</summary>
    public byte[] ConfigBytes(string id) => File.ReadAllBytes(Path.Combine(BlobDir, Hex(id)));

    /// <summary>Finds an image by name (busybox, busybox:latest, docker.io/library/busybox:latest), id or id prefix (≥ 4 hex).</summary>
    public Image Resolve(string reference)
    {
        if (TryResolve(reference) is { } image) return image;
        var shown = ImageReference.TryParse(reference, out var r, out _) ? r.Familiar : reference;
        throw RuntimeError.Plain($"Unable to find image '{shown}' locally", 125);
    }

    public Image? TryResolve(string reference)
    {
        var id = reference.StartsWith("sha256:", StringComparison.Ordinal) ? reference[7..] : reference;
        if (id.Length == 64 && IsHex(id) && File.Exists(Path.Combine(BlobDir, id))) return Load("sha256:" + id);
        bool parsed = ImageReference.TryParse(reference, out var name, out var error);
        if (parsed && ReadIndex().References.TryGetValue(name.Canonical, out var tagged)) return Load(tagged);
        if (id.Length >= 4 && id.Length <= 64 && IsHex(id))
        {
            string? match = null;
            foreach (var blob in BlobIds())
            {
                if (!blob.StartsWith(id, StringComparison.Ordinal)) continue;
                if (match is not null) throw RuntimeError.Plain($"image id prefix '{reference}' is ambiguous: it matches {match[..12]} and {blob[..12]}");
                match = blob;
            }
            if (match is not null) return Load("sha256:" + match);
        }
        if (!parsed) throw RuntimeError.Plain($"invalid reference format: {error}");
        return null;
    }

    /// <summary>Every image under each of its tags, untagged images once as &lt;none&gt;:&lt;none&gt;; newest first.</summary>
    public IReadOnlyList<ImageSummary> List()
    {
        var tags = TagsById();
        var digests = TagsById(digests: true);
        var rows = new List<ImageSummary>();
        foreach (var id in ImageIds())
        {
            var image = Load(id, tags);
            string? DigestOf(string repository) => digests.TryGetValue(image.Id, out var d)
                ? d.Select(ImageReference.Parse).FirstOrDefault(x => x.Repository == repository)?.Digest : null;
            if (image.RepoTags.Count == 0)
                rows.Add(new("<none>", "<none>", image.Id, image.Config.Created, image.Size,
                    digests.TryGetValue(image.Id, out var d) ? ImageReference.Parse(d[0]).Digest : null));
            foreach (var t in image.RepoTags)
            {
                var r = ImageReference.Parse(t);
                rows.Add(new(r.Repository, r.Tag ?? "<none>", image.Id, image.Config.Created, image.Size, DigestOf(r.Repository)));
            }
        }
        rows.Sort((a, b) => b.Created.GetValueOrDefault().CompareTo(a.Created.GetValueOrDefault()) is var c and not 0
            ? c : string.CompareOrdinal(a.Repository + ":" + a.Tag, b.Repository + ":" + b.Tag));
        return rows;
    }

    /// <summary>Points <paramref name="name"/> at <paramref name="id"/>, moving it off any other image.</summary>
    public void Tag(ImageReference name, string id) => MutateIndex(index =>
    {
        index.References[name.Canonical] = id;
        index.Images.Add(id);
    });

    /// <summary>Changes the index under images/lock and replaces it atomically.</summary>
    public void MutateIndex(Action<ImageIndex> change)
    {
        Directory.CreateDirectory(ImagesDir);
        int lockFd = LockFile("lock", LOCK_EX);
        try
        {
            var index = ReadIndex();
            change(index);
            WriteAtomically(IndexPath, JsonSerializer.SerializeToUtf8Bytes(index, ImageJsonContext.Default.ImageIndex));
        }
        finally { Libc.close(lockFd); }
    }

    /// <summary>Held (shared) while layers, blobs and configs are written that no image references yet.</summary>
    public IDisposable WriterLock() => new FdLock(LockFile("gc.lock", LOCK_SH));

    /// <summary>Held (exclusively) while unreferenced layers and blobs are removed.</summary>
    public IDisposable CollectorLock() => new FdLock(LockFile("gc.lock", LOCK_EX));

    int LockFile(string name, int op)
    {
        Directory.CreateDirectory(ImagesDir);
        var path = Path.Combine(ImagesDir, name);
        int fd = Libc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0x180);
        if (fd < 0) throw new RuntimeError("open", path, Errno);
        while (flock(fd, op) < 0)
        {
            int err = Errno;
            if (err == EINTR) continue;
            Libc.close(fd);
            throw new RuntimeError("flock", path, err);
        }
        return fd;
    }

    sealed class FdLock(int fd) : IDisposable
    {
        int _fd = fd;
        public void Dispose()
        {
            if (_fd >= 0) Libc.close(_fd);
            _fd = -1;
        }
    }

    /// <summary>
    /// The contents of the regular file <paramref name="path"/> as the image shows it: the topmost layer that has it
    /// wins, a whiteout (0/0 character device) or an opaque directory above hides the layers below. Each layer is
    /// searched with openat2(RESOLVE_IN_ROOT), so a symlink in the image cannot lead out of it (a symlink is followed
    /// within its own layer only). Null when no layer has it.
    /// </summary>
    public static unsafe byte[]? ReadFile(Image image, string path)
    {
        for (int i = image.LayerDirs.Count - 1; i >= 0; i--)
        {
            var dir = image.LayerDirs[i];
            int dfd = Libc.open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
            if (dfd < 0) throw new RuntimeError("open", dir, Errno);
            try
            {
                int probe = OpenAt2(dfd, path, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
                if (probe < 0)
                {
                    if (Errno is not (ENOENT or ENOTDIR)) throw new RuntimeError("openat2", $"{dir}:{path}", Errno);
                    if (HiddenBelow(dfd, path)) return null;
                    continue;
                }
                Stat st;
                int r = fstat(probe, &st);
                Libc.close(probe);
                if (r < 0) throw new RuntimeError("fstat", $"{dir}:{path}", Errno);
                if ((st.Mode & S_IFMT) == S_IFCHR && st.Rdev == 0) return null; // deleted by this layer
                if ((st.Mode & S_IFMT) != S_IFREG) throw RuntimeError.Plain($"read {path} in image {image.ShortId}: not a regular file");
                if (st.Size > 64 << 20) throw RuntimeError.Plain($"read {path} in image {image.ShortId}: file is larger than 64 MiB");
                int fd = OpenAt2(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
                if (fd < 0) throw new RuntimeError("openat2", $"{dir}:{path}", Errno);
                using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
                using var stream = new FileStream(handle, FileAccess.Read, 0);
                using var ms = new MemoryStream((int)st.Size);
                stream.CopyTo(ms);
                return ms.ToArray();
            }
            finally { Libc.close(dfd); }
        }
        return null;
    }

    /// <summary>True when an ancestor of <paramref name="path"/> in this layer is a whiteout or an opaque directory.</summary>
    static unsafe bool HiddenBelow(int dfd, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var buf = stackalloc byte[4];
        for (int k = 1; k < parts.Length; k++)
        {
            var prefix = string.Join('/', parts[..k]);
            int fd = OpenAt2(dfd, prefix, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
            if (fd < 0) return false;
            try
            {
                Stat st;
                if (fstat(fd, &st) < 0) return false;
                if ((st.Mode & S_IFMT) == S_IFCHR && st.Rdev == 0) return true;
                if ((st.Mode & S_IFMT) != S_IFDIR) return false;
                if (lgetxattr($"/proc/self/fd/{fd}/.", "trusted.overlay.opaque", buf, 4) == 1 && buf[0] == (byte)'y') return true;
            }
            finally { Libc.close(fd); }
        }
        return false;
    }

    Image Load(string id, Dictionary<string, List<string>>? tagsById = null)
    {
        var hex = Hex(id);
        var blob = Path.Combine(BlobDir, hex);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(blob); }
        catch (FileNotFoundException) { throw RuntimeError.Plain($"image {hex[..12]}: config blob {blob} is missing"); }
        // Not re-hashed here: blobs are verified when written (temp file + rename), and hashing on every
        // run would load OpenSSL, which costs milliseconds of start-up.
        ImageConfig config;
        try { config = JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw RuntimeError.Plain($"image {hex[..12]}: config blob {blob} is not valid JSON: {e.Message}"); }
        var dirs = new List<string>();
        foreach (var diffId in config.RootFs.DiffIds)
        {
            var dir = LayerDir(diffId);
            if (!Directory.Exists(dir)) throw RuntimeError.Plain($"image {hex[..12]}: layer {diffId} is missing ({dir})");
            dirs.Add(dir);
        }
        return new Image("sha256:" + hex, config, dirs,
            () => (tagsById ?? TagsById()).TryGetValue("sha256:" + hex, out var t) ? t : [],
            () => dirs.Sum(LayerSize),
            () => (tagsById ?? TagsById(digests: true)).TryGetValue("sha256:" + hex, out var t) ? t : []);
    }

    static long LayerSize(string dir)
    {
        try
        {
            var info = JsonSerializer.Deserialize(File.ReadAllBytes(dir + ".json"), ImageJsonContext.Default.LayerInfo);
            if (info is not null) return info.Size;
        }
        catch (Exception e) when (e is IOException or JsonException) { }
        long size = 0; // no record (an older store): count the file bytes
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        foreach (var f in new DirectoryInfo(dir).EnumerateFiles("*", options))
            if (f.LinkTarget is null) size += f.Length;
        return size;
    }

    /// <summary>Stores the config as a blob named by its sha256 and returns the image id.</summary>
    string StoreConfig(ImageConfig config)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig);
        var hex = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Directory.CreateDirectory(BlobDir);
        var path = Path.Combine(BlobDir, hex);
        if (!File.Exists(path)) WriteAtomically(path, bytes);
        MutateIndex(index => index.Images.Add("sha256:" + hex));
        return "sha256:" + hex;
    }

    public ImageIndex ReadIndex()
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(IndexPath); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return new ImageIndex(); }
        try { return JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageIndex) ?? new ImageIndex(); }
        catch (JsonException e) { throw RuntimeError.Plain($"image index {IndexPath} is not valid JSON: {e.Message}"); }
    }

    /// <summary>Image id → familiar names: tags ("busybox:latest"), or with <paramref name="digests"/> repo digests ("busybox@sha256:…").</summary>
    Dictionary<string, List<string>> TagsById(bool digests = false)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (canonical, id) in ReadIndex().References)
        {
            if (canonical.Contains('@') != digests) continue;
            if (!result.TryGetValue(id, out var list)) result[id] = list = [];
            list.Add(ImageReference.TryParse(canonical, out var r, out _) ? r.Familiar : canonical);
        }
        return result;
    }

    /// <summary>Every image id in the store ("sha256:…").</summary>
    public IReadOnlyList<string> ImageIds()
    {
        var index = ReadIndex();
        var ids = new SortedSet<string>(index.Images, StringComparer.Ordinal);
        foreach (var id in index.References.Values) ids.Add(id);
        return [.. ids.Where(id => File.Exists(Path.Combine(BlobDir, Hex(id))))];
    }

    IEnumerable<string> BlobIds()
    {
        if (!Directory.Exists(BlobDir)) yield break;
        foreach (var f in Directory.EnumerateFiles(BlobDir))
        {
            var name = Path.GetFileName(f);
            if (name.Length == 64 && IsHex(name)) yield return name;
        }
    }

    static void WriteAtomically(string path, byte[] bytes)
    {
        var tmp = $"{path}.tmp-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw RuntimeError.Plain($"write {path}: {RuntimeError.IoText(e)}");
        }
    }

    static void RemoveQuietly(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    internal static string Hex(string id)
    {
        var hex = id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..] : id;
        if (hex.Length != 64 || !IsHex(hex)) throw RuntimeError.Plain($"invalid image or layer id \"{id}\"");
        return hex;
    }

    static bool IsHex(string s)
    {
        foreach (var c in s) if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }
}
