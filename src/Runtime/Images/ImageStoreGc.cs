using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Images;

/// <summary>A container that uses images: its id, the image name it was started from, its overlay's lower dirs.</summary>
internal sealed record ImageUser(string ContainerId, string ImageName, IReadOnlyList<string> LayerDirs);

/// <summary>What rmi / prune did, in the order docker prints it ("Untagged: …", "Deleted: …"), and the bytes freed.</summary>
internal sealed class RemovalReport
{
    public List<string> Lines { get; } = [];
    public long Reclaimed { get; set; }
}

internal sealed partial class ImageStore
{
    /// <summary>Containers (any state: every directory under containers/) and what they use, from their config.json.</summary>
    public IReadOnlyList<ImageUser> ContainerUsers()
    {
        var result = new List<ImageUser>();
        var dir = Path.Combine(Root, "containers");
        if (!Directory.Exists(dir)) return result;
        foreach (var c in Directory.EnumerateDirectories(dir))
        {
            var id = Path.GetFileName(c);
            Dictionary<string, string>? a;
            try { a = SpecReader.Read(File.ReadAllBytes(Path.Combine(c, "config.json")))?.Annotations; }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { continue; }
            if (a is null) continue;
            var lower = a.GetValueOrDefault(IncrunAnnotations.OverlayLower) ?? "";
            result.Add(new ImageUser(id.TrimStart('.'), a.GetValueOrDefault("org.incrun.image") ?? "",
                [.. lower.Split(':', StringSplitOptions.RemoveEmptyEntries).Reverse()]));
        }
        return result;
    }

    /// <summary>Ids of the images the containers use (by the name they were started with, or by identical layers).</summary>
    public HashSet<string> ImagesInUse(IReadOnlyList<ImageUser>? users = null)
    {
        users ??= ContainerUsers();
        var result = new HashSet<string>(StringComparer.Ordinal);
        if (users.Count == 0) return result;
        foreach (var id in ImageIds())
        {
            Image image;
            try { image = Load(id); }
            catch (RuntimeError) { continue; }
            foreach (var u in users)
                if (u.LayerDirs.SequenceEqual(image.LayerDirs) && (u.ImageName.Length == 0 || SafeResolve(u.ImageName) is not { } named || named == id))
                    result.Add(id);
        }
        return result;
    }

    string? SafeResolve(string name)
    {
        try { return TryResolve(name)?.Id; }
        catch (RuntimeError) { return null; }
    }

    /// <summary>
    /// docker rmi: a name with other names left is only untagged; the last name, or an id, deletes the image (its
    /// names, its config, then layers and blobs no other image uses). An image a container uses, or an id with several
    /// names, is refused unless <paramref name="force"/>; layers a container uses are never removed.
    /// </summary>
    public RemovalReport Remove(string reference, bool force, RemovalReport? report = null)
    {
        report ??= new RemovalReport();
        var image = Resolve(reference);
        var users = ContainerUsers();
        var inUse = ImagesInUse(users);
        var index = ReadIndex();
        var tags = index.References.Where(kv => kv.Value == image.Id && !kv.Key.Contains('@')).Select(kv => kv.Key).ToList();
        bool byName = ImageReference.TryParse(reference, out var name, out _) && index.References.ContainsKey(name.Canonical);
        if (byName && name.Digest is null && tags.Count > 1)
        {
            MutateIndex(i => i.References.Remove(name.Canonical));
            report.Lines.Add($"Untagged: {name.Familiar}");
            return report;
        }
        if (!force)
        {
            if (inUse.Contains(image.Id))
            {
                var user = users.First(u => u.LayerDirs.SequenceEqual(image.LayerDirs));
                throw RuntimeError.Plain(byName
                    ? $"conflict: unable to remove repository reference \"{reference}\" (must force) - container {user.ContainerId[..12]} is using its referenced image {image.ShortId}"
                    : $"conflict: unable to delete {image.ShortId} (must be forced) - image is being used by container {user.ContainerId[..12]}", 125);
            }
            if (!byName && tags.Count > 1)
                throw RuntimeError.Plain($"conflict: unable to delete {image.ShortId} (must be forced) - image is referenced in multiple repositories");
        }
        DeleteImage(image.Id, report);
        Collect(users, report);
        return report;
    }

    void DeleteImage(string id, RemovalReport report)
    {
        MutateIndex(index =>
        {
            foreach (var key in index.References.Where(kv => kv.Value == id).Select(kv => kv.Key).ToList())
            {
                index.References.Remove(key);
                report.Lines.Add("Untagged: " + (ImageReference.TryParse(key, out var r, out _) ? r.Familiar : key));
            }
            index.Images.Remove(id);
            index.Manifests.Remove(id);
        });
        var blob = Path.Combine(BlobDir, Hex(id));
        if (File.Exists(blob))
        {
            report.Reclaimed += new FileInfo(blob).Length;
            File.Delete(blob);
        }
        report.Lines.Add("Deleted: " + id);
    }

    /// <summary>
    /// docker image prune / system prune: removes dangling images (no tag), or with <paramref name="all"/> every image
    /// not in <paramref name="inUse"/> (the caller's set of image ids that containers use), then every layer and
    /// blob no remaining image references.
    /// </summary>
    public RemovalReport Prune(bool all, ISet<string> inUse)
    {
        var report = new RemovalReport();
        var index = ReadIndex();
        var tagged = index.References.Where(kv => !kv.Key.Contains('@')).Select(kv => kv.Value).ToHashSet(StringComparer.Ordinal);
        foreach (var id in ImageIds())
        {
            if (inUse.Contains(id)) continue;
            if (!all && tagged.Contains(id)) continue;
            DeleteImage(id, report);
        }
        Collect(ContainerUsers(), report);
        return report;
    }

    /// <summary>Removes layers, archives and manifests no image references (nor any container uses), and leftovers of crashed writers.</summary>
    void Collect(IReadOnlyList<ImageUser> users, RemovalReport report)
    {
        using var _ = CollectorLock();
        var index = ReadIndex();
        var diffIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in ImageIds())
        {
            try { foreach (var d in ParseConfig(ConfigBytes(id), id).RootFs.DiffIds) diffIds.Add(Hex(d)); }
            catch (Exception e) when (e is RuntimeError or IOException) { }
        }
        var usedDirs = users.SelectMany(u => u.LayerDirs).ToHashSet(StringComparer.Ordinal);
        var keepContent = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in index.Manifests.Values) keepContent.Add(Hex(d));
        foreach (var key in index.References.Keys)
            if (key.IndexOf('@') is var at and > 0) keepContent.Add(Hex(key[(at + 1)..]));
        var shaDir = Path.Combine(LayersDir, "sha256");
        if (Directory.Exists(shaDir))
        {
            foreach (var dir in Directory.GetDirectories(shaDir))
            {
                var hex = Path.GetFileName(dir);
                if (diffIds.Contains(hex) || usedDirs.Contains(dir))
                {
                    foreach (var b in ReadLayerInfo("sha256:" + hex)?.Blobs ?? []) keepContent.Add(Hex(b.Digest));
                    continue;
                }
                report.Reclaimed += LayerSize(dir) + (ReadLayerInfo("sha256:" + hex)?.Blobs?.Sum(b => File.Exists(ContentPath(b.Digest)) ? b.Size : 0) ?? 0);
                RemoveQuietly(dir);
                RemoveQuietly(Path.Combine(LayersDir, "idmapped", hex));   // its copies for user namespaces (Rootfs/ShiftedLayers)
                try { File.Delete(dir + ".json"); } catch (IOException) { }
                report.Lines.Add("Deleted: sha256:" + hex);
            }
            foreach (var json in Directory.GetFiles(shaDir, "*.json"))
                if (!Directory.Exists(json[..^5])) try { File.Delete(json); } catch (IOException) { }
        }
        if (Directory.Exists(LayersDir))
            foreach (var tmp in Directory.GetDirectories(LayersDir, "tmp-*")) RemoveQuietly(tmp);
        if (Directory.Exists(ContentDir))
            foreach (var f in Directory.GetFiles(ContentDir))
            {
                var name = Path.GetFileName(f);
                if (keepContent.Contains(name)) continue; // else: an archive of a removed layer (already counted), a manifest, a crashed temp file
                try { File.Delete(f); } catch (IOException) { }
            }
    }

    /// <summary>docker system df's image line: count, in use, bytes, reclaimable bytes.</summary>
    public (int Total, int Active, long Size, long Reclaimable) DiskUsage(ISet<string> inUse)
    {
        var layerOwners = new Dictionary<string, int>(StringComparer.Ordinal);
        var images = new List<Image>();
        foreach (var id in ImageIds())
        {
            try { images.Add(Load(id)); } catch (RuntimeError) { }
        }
        long size = 0, used = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var usedLayers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var img in images.Where(i => inUse.Contains(i.Id))) foreach (var d in img.LayerDirs) usedLayers.Add(d);
        foreach (var img in images)
            foreach (var d in img.LayerDirs)
                if (seen.Add(d))
                {
                    long s = LayerSize(d);
                    size += s;
                    if (usedLayers.Contains(d)) used += s;
                }
        return (images.Count, images.Count(i => inUse.Contains(i.Id)), size, size - used);
    }
}
