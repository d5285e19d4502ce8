using System.Text.Json;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Images.Registry;

/// <summary>
/// <c>incrun push</c>: every layer archive and the config are uploaded unless the registry has them (HEAD) or
/// can mount them from another repository of the same registry this image came from; then the manifest is put
/// under the tag. An image pulled from a registry is pushed with its original manifest, so its digest is kept.
/// </summary>
internal sealed class ImagePusher(ImageStore store, RegistryOptions options, ITransferProgress progress)
{
    /// <summary>Pushes and returns the manifest digest.</summary>
    public string Push(string reference)
    {
        var name = ImageReference.Parse(reference);
        try { return PushCore(name); }
        catch (RegistryException e) { throw RuntimeError.Plain($"push {name.Canonical}: {e.Message}"); }
    }

    string PushCore(ImageReference name)
    {
        if (name.Digest is not null) throw RuntimeError.Plain($"push {name.Familiar}: cannot push a digest reference (tag the image first)");
        var image = store.TryResolve(name.Canonical)
            ?? throw RuntimeError.Plain($"push {name.Familiar}: An image does not exist locally with the tag: {name.Repository}");
        var (manifest, mediaType, doc) = ManifestFor(store, image);
        using var client = new RegistryClient(name.Domain, options, new CredentialStore(store.Root).Get(name.Domain));
        // mount sources: other repositories of the same registry this image was pulled from or pushed to
        var sources = image.RepoDigests.Select(ImageReference.Parse)
            .Where(r => r.Domain == name.Domain && r.Path != name.Path).Select(r => r.Path).Distinct().ToList();
        var scope = $"repository:{name.Path}:pull,push" + string.Concat(sources.Select(s => $" repository:{s}:pull"));
        progress.Begin($"The push refers to repository [{name.Domain}/{name.Path}]");
        foreach (var layer in doc.Layers!.Append(doc.Config!))
        {
            bool isConfig = layer == doc.Config;
            if (!isConfig) progress.Layer(layer.Digest, LayerStatus.Preparing, 0, layer.Size);
            if (client.BlobExists(name.Path, layer.Digest, scope))
            {
                if (!isConfig) progress.Layer(layer.Digest, LayerStatus.LayerExists, layer.Size, layer.Size);
                continue;
            }
            var mounted = sources.FirstOrDefault(s => client.MountBlob(name.Path, layer.Digest, s, scope));
            if (mounted is not null)
            {
                if (!isConfig) progress.Layer(layer.Digest, LayerStatus.Mounted, layer.Size, layer.Size);
                continue;
            }
            var path = store.FindBlob(layer.Digest) ?? throw RuntimeError.Plain($"push {name.Familiar}: blob {layer.Digest} is missing from the store");
            if (!isConfig) progress.Layer(layer.Digest, LayerStatus.Pushing, 0, layer.Size);
            client.UploadBlob(name.Path, layer.Digest, path, scope);
            if (!isConfig) progress.Layer(layer.Digest, LayerStatus.Pushed, layer.Size, layer.Size);
        }
        var digest = client.PutManifest(name.Path, name.Tag ?? "latest", manifest, mediaType, scope);
        store.PutContent(manifest);
        store.MutateIndex(index =>
        {
            index.References[$"{name.Domain}/{name.Path}@{digest}"] = image.Id;
            index.Manifests[image.Id] = digest;
        });
        progress.End($"{name.Tag ?? "latest"}: digest: {digest} size: {manifest.Length}");
        return digest;
    }

    /// <summary>
    /// The manifest to push: the one the image was pulled (or last pushed) with when every blob it names is in the
    /// store, else a new one: Docker schema 2 when every layer archive is gzip, OCI otherwise.
    /// </summary>
    internal static (byte[] Bytes, string MediaType, ManifestDocument Doc) ManifestFor(ImageStore store, Image image)
    {
        if (store.ReadIndex().Manifests.TryGetValue(image.Id, out var known) && store.FindBlob(known) is { } path)
        {
            var bytes = File.ReadAllBytes(path);
            var doc = ImagePuller.ParseManifest(bytes, "");
            if (doc.Config?.Digest == image.Id && doc.Layers is not null && doc.Layers.All(l => store.FindBlob(l.Digest) is not null))
                return (bytes, doc.MediaType ?? MediaTypes.OciManifest, doc);
        }
        var layers = new List<BlobRef>();
        foreach (var diffId in image.Config.RootFs.DiffIds)
        {
            var blob = store.ReadLayerInfo(diffId)?.Blobs?.FirstOrDefault(b => store.FindBlob(b.Digest) is not null)
                ?? throw RuntimeError.Plain($"layer {diffId} of image {image.ShortId} has no archive in the store (it was stored by an older incrun; pull or import the image again)");
            layers.Add(blob);
        }
        bool docker = layers.All(l => l.MediaType is MediaTypes.DockerLayerGzip or MediaTypes.OciLayerGzip);
        var configSize = store.ConfigBytes(image.Id).Length;
        var manifest = new ManifestDocument
        {
            SchemaVersion = 2,
            MediaType = docker ? MediaTypes.DockerManifest : MediaTypes.OciManifest,
            Config = new Descriptor { MediaType = docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig, Digest = image.Id, Size = configSize },
            Layers = [.. layers.Select(l => new Descriptor
            {
                MediaType = docker ? MediaTypes.DockerLayerGzip : l.MediaType.Replace("vnd.docker.image.rootfs.diff.tar.gzip", "vnd.oci.image.layer.v1.tar+gzip"),
                Digest = l.Digest, Size = l.Size,
            })],
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(manifest, RegistryJsonContext.Default.ManifestDocument);
        return (json, manifest.MediaType, manifest);
    }
}
