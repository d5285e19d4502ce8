using System.Text.Json;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Images.Registry;

/// <summary>What a layer transfer is doing, as docker prints it.</summary>
public enum LayerStatus { Waiting, AlreadyExists, Downloading, Retrying, Complete, Preparing, Pushing, Pushed, Mounted, LayerExists }

/// <summary>
/// Progress of a pull or push, reported by the library (which prints nothing) to the command line, which draws it.
/// Layer reports come from several threads at once.
/// </summary>
public interface ITransferProgress
{
    /// <summary>`run` found no local image and pulls it ("Unable to find image 'x:latest' locally").</summary>
    void Missing(string familiar) { }
    /// <summary>"latest: Pulling from library/busybox" / "The push refers to repository [localhost:5000/x]".</summary>
    void Begin(string line) { }
    void Layer(string digest, LayerStatus status, long current, long total) { }
    /// <summary>The last lines ("Digest: …", "Status: …").</summary>
    void End(string line) { }
}

/// <summary>A progress that reports nothing.</summary>
public sealed class NoProgress : ITransferProgress
{
    public static readonly NoProgress Instance = new();
}

/// <summary>
/// <c>incrun pull</c>: manifest (an index or manifest list narrows to one platform), config, then the layers
/// not yet in the store in parallel, each unpacked while it downloads and verified (blob digest and diff id)
/// before it is kept. A layer already unpacked is never fetched again, so an interrupted pull resumes.
/// </summary>
internal sealed class ImagePuller(ImageStore store, RegistryOptions options, ITransferProgress progress)
{
    /// <summary>The image named <paramref name="reference"/>, pulled when the store lacks it (what `run` does).</summary>
    public static Image ResolveOrPull(string stateRoot, string reference, ITransferProgress? progress)
    {
        var store = new ImageStore(stateRoot);
        if (store.TryResolve(reference) is { } image) return image;
        var name = ImageReference.Parse(reference);
        progress ??= NoProgress.Instance;
        progress.Missing(name.Familiar);
        return new ImagePuller(store, RegistryOptions.FromEnvironment(), progress).Pull(name, null);
    }

    public Image Pull(ImageReference name, Platform? platform)
    {
        try { return PullCore(name, platform ?? Platform.Host); }
        catch (RegistryException e) { throw RuntimeError.Plain($"pull {name.Canonical}: {e.Message}"); }
        catch (RuntimeError e) when (!e.Message.StartsWith("pull ", StringComparison.Ordinal)) { throw RuntimeError.Plain($"pull {name.Canonical}: {e.Message}", e.ExitCode); }
    }

    Image PullCore(ImageReference name, Platform platform)
    {
        using var client = new RegistryClient(name.Domain, options, new CredentialStore(store.Root).Get(name.Domain));
        var scope = $"repository:{name.Path}:pull";
        var reference = name.Digest ?? name.Tag ?? "latest";
        progress.Begin($"{reference}: Pulling from {name.Path}");
        var (bytes, mediaType, digest) = client.GetManifest(name.Path, reference, scope);
        var top = digest;
        var topBytes = bytes;
        var doc = ParseManifest(bytes, mediaType);
        if (MediaTypes.IsIndex(doc.MediaType ?? mediaType) || (doc.Manifests is not null && doc.Layers is null))
        {
            var entry = doc.Manifests?.FirstOrDefault(m => platform.Matches(m.Platform))
                ?? throw RuntimeError.Plain($"no matching manifest for {platform} in the manifest list entries" +
                    $" (it has {string.Join(", ", (doc.Manifests ?? []).Where(m => m.Platform is not null).Select(m => new Platform(m.Platform!.Os, m.Platform.Architecture, m.Platform.Variant).ToString()).Distinct())})");
            (bytes, mediaType, digest) = client.GetManifest(name.Path, entry.Digest, scope);
            if (digest != entry.Digest) throw RuntimeError.Plain($"manifest {entry.Digest}: digest mismatch ({digest})");
            doc = ParseManifest(bytes, mediaType);
            if (MediaTypes.IsIndex(doc.MediaType ?? mediaType)) throw RuntimeError.Plain($"manifest {entry.Digest}: a nested index is not supported");
        }
        CheckManifest(doc, digest);

        var configBytes = client.GetSmallBlob(name.Path, doc.Config!.Digest, scope);
        var config = ImageStore.ParseConfig(configBytes, doc.Config.Digest);
        if (config.RootFs.DiffIds.Count != doc.Layers!.Count)
            throw RuntimeError.Plain($"manifest {digest}: {doc.Layers.Count} layers but the config lists {config.RootFs.DiffIds.Count} diff ids");
        if (!platform.Matches(new PlatformSpec { Os = config.Os, Architecture = config.Architecture, Variant = config.Variant }) && name.Digest is null)
            progress.Begin($"WARNING: the image's platform ({config.Os}/{config.Architecture}) does not match the requested platform ({platform})");

        bool downloaded = false;
        using (store.WriterLock())
        {
            var todo = new List<int>();
            for (int i = 0; i < doc.Layers.Count; i++)
            {
                if (store.HasLayer(config.RootFs.DiffIds[i])) progress.Layer(doc.Layers[i].Digest, LayerStatus.AlreadyExists, 0, doc.Layers[i].Size);
                else { todo.Add(i); progress.Layer(doc.Layers[i].Digest, LayerStatus.Waiting, 0, doc.Layers[i].Size); }
            }
            downloaded = todo.Count > 0;
            Exception? failure = null;
            Parallel.ForEach(todo, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.MaxConcurrentDownloads) }, (i, state) =>
            {
                try { FetchLayer(client, name, scope, doc.Layers[i], config.RootFs.DiffIds[i]); }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                    state.Stop();
                }
            });
            if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            var id = store.StoreConfigBytes(configBytes, doc.Config.Digest);
            store.PutContent(bytes);
            if (top != digest) store.PutContent(topBytes);
            bool existed = store.TryResolve(name.Canonical)?.Id == id;
            store.MutateIndex(index =>
            {
                if (name.Tag is not null) index.References[name.Canonical] = id;
                index.References[$"{name.Domain}/{name.Path}@{top}"] = id;
                index.Manifests[id] = digest;
                index.Images.Add(id);
            });
            progress.End($"Digest: {top}");
            progress.End(downloaded || !existed
                ? $"Status: Downloaded newer image for {name.Familiar}"
                : $"Status: Image is up to date for {name.Familiar}");
            return store.Resolve(id);
        }
    }

    void FetchLayer(RegistryClient client, ImageReference name, string scope, Descriptor layer, string diffId)
    {
        var expected = new BlobRef { Digest = layer.Digest, MediaType = layer.MediaType ?? MediaTypes.OciLayerGzip, Size = layer.Size };
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var response = client.GetBlob(name.Path, layer.Digest, scope);
                using var stream = response.Content.ReadAsStream();
                progress.Layer(layer.Digest, LayerStatus.Downloading, 0, layer.Size);
                store.UnpackLayer(stream, expected, diffId, n => progress.Layer(layer.Digest, LayerStatus.Downloading, n, layer.Size));
                progress.Layer(layer.Digest, LayerStatus.Complete, layer.Size, layer.Size);
                return;
            }
            catch (Exception e) when (attempt < options.Attempts && e is IOException or HttpRequestException
                                      || (attempt < options.Attempts && e is RuntimeError re && re.Message.Contains("reading the archive failed")))
            {
                progress.Layer(layer.Digest, LayerStatus.Retrying, 0, layer.Size);
                Thread.Sleep(options.FirstBackoff * (1 << (attempt - 1)));
            }
        }
    }

    internal static ManifestDocument ParseManifest(byte[] bytes, string mediaType)
    {
        if (mediaType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed)
            throw RuntimeError.Plain("the image uses Docker manifest schema 1, which is deprecated and not supported (re-push it with a current tool)");
        ManifestDocument? doc;
        try { doc = JsonSerializer.Deserialize(bytes, RegistryJsonContext.Default.ManifestDocument); }
        catch (JsonException e) { throw RuntimeError.Plain($"the manifest is not valid JSON: {e.Message}"); }
        if (doc is null) throw RuntimeError.Plain("the manifest is empty");
        if (doc.SchemaVersion == 1) throw RuntimeError.Plain("the image uses Docker manifest schema 1, which is deprecated and not supported (re-push it with a current tool)");
        if (doc.SchemaVersion != 2) throw RuntimeError.Plain($"unsupported manifest schema version {doc.SchemaVersion}");
        var type = doc.MediaType ?? mediaType;
        if (type.Length > 0 && !MediaTypes.IsIndex(type) && !MediaTypes.IsManifest(type) && type != "application/json")
            throw RuntimeError.Plain($"unsupported manifest media type \"{type}\"");
        return doc;
    }

    static void CheckManifest(ManifestDocument doc, string digest)
    {
        if (doc.Config is null || doc.Layers is null) throw RuntimeError.Plain($"manifest {digest} has no config or no layers");
        if (doc.Config.MediaType is not (MediaTypes.OciConfig or MediaTypes.DockerConfig))
            throw RuntimeError.Plain($"manifest {digest}: config media type \"{doc.Config.MediaType}\" is not an image config (is this an artifact rather than an image?)");
        foreach (var d in doc.Layers.Append(doc.Config))
        {
            if (!d.Digest.StartsWith("sha256:", StringComparison.Ordinal) || d.Digest.Length != 71 || !d.Digest[7..].All(char.IsAsciiHexDigitLower))
                throw RuntimeError.Plain($"manifest {digest}: unsupported digest \"{d.Digest}\" (only sha256 is supported)");
        }
        foreach (var l in doc.Layers)
            if (!MediaTypes.IsLayer(l.MediaType))
                throw RuntimeError.Plain($"manifest {digest}: layer {l.Digest} has unsupported media type \"{l.MediaType}\"");
    }
}
