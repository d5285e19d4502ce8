using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Inception.Runtime.Errors;
using Inception.Runtime.Images;
using Inception.Runtime.Images.Registry;
using Inception.Runtime.Native;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Images;

/// <summary>Whiteouts, zstd, verified unpacking, rmi/prune, save/load, credentials, platforms: the library, no registry.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ImageOperationsTests : LayerTest
{
    string StoreRoot => Path.Combine(Dir, "store");
    ImageStore Store => new(StoreRoot);

    static byte[] Base() => new TarFixture().Dir("etc/").File("etc/passwd", "root:x:0:0::/root:/bin/sh\n").File("etc/group", "root:x:0:\n")
        .Dir("home/").Dir("home/old/").File("home/old/f", "old").Bytes();

    static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

    [Test]
    public void WhiteoutsBecomeOverlayfsDevicesAndOpaqueXattrs()
    {
        var layer = Path.Combine(Dir, "layer");
        Directory.CreateDirectory(layer);
        var tar = new TarFixture().Dir("etc/").File("etc/.wh.group", "").Dir("home/").File("home/.wh..wh..opq", "").File("home/new", "n")
            .File("etc/attr", "a", pax: [new("SCHILY.xattr.trusted.overlay.redirect", "/etc"), new("SCHILY.xattr.user.keep", "k")]).Bytes();
        LayerExtractor.Extract(new MemoryStream(tar), layer);
        var st = LStat(Path.Combine(layer, "etc/group"));
        Assert.That(st.Mode & Libc.S_IFMT, Is.EqualTo(Libc.S_IFCHR));
        Assert.That(st.Rdev, Is.Zero);
        Assert.That(Exists(Path.Combine(layer, "etc/.wh.group")), Is.False);
        Assert.That(Exists(Path.Combine(layer, "home/.wh..wh..opq")), Is.False);
        Assert.That(GetXattr(Path.Combine(layer, "home"), "trusted.overlay.opaque"), Is.EqualTo("y"));
        Assert.That(GetXattr(Path.Combine(layer, "etc/attr"), "trusted.overlay.redirect"), Is.Null, "an image cannot forge overlay xattrs");
        Assert.That(GetXattr(Path.Combine(layer, "etc/attr"), "user.keep"), Is.EqualTo("k"));
    }

    [TestCase("etc/.wh..")]
    [TestCase("etc/.wh.")]
    public void InvalidWhiteoutNamesAreRefused(string name)
    {
        var layer = Path.Combine(Dir, "layer");
        Directory.CreateDirectory(layer);
        var tar = new TarFixture().Dir("etc/").File(name, "").Bytes();
        Assert.That(() => LayerExtractor.Extract(new MemoryStream(tar), layer), Throws.TypeOf<RuntimeError>().With.Message.Contains("not a valid whiteout"));
    }

    [Test]
    public void ReadFileHonoursWhiteoutsAndOpaqueDirs()
    {
        var store = Store;
        var upper = new TarFixture().Dir("etc/").File("etc/.wh.group", "").Dir("home/").File("home/.wh..wh..opq", "").Bytes();
        using (store.WriterLock())
        {
            var a = store.UnpackLayer(new MemoryStream(Base()));
            var b = store.UnpackLayer(new MemoryStream(upper));
            var config = new ImageConfig();
            config.RootFs.DiffIds.AddRange([a.DiffId, b.DiffId]);
            var id = store.StoreConfigBytes(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig));
            var image = store.Resolve(id);
            Assert.That(Encoding.UTF8.GetString(ImageStore.ReadFile(image, "/etc/passwd")!), Does.StartWith("root:"));
            Assert.That(ImageStore.ReadFile(image, "/etc/group"), Is.Null, "whited out");
            Assert.That(ImageStore.ReadFile(image, "/home/old/f"), Is.Null, "under an opaque dir");
        }
    }

    [Test]
    public void ZstdAndPlainLayersUnpackAndKeepTheirArchive()
    {
        var tar = Base();
        using var c = new ZstdSharp.Compressor(3);
        var zst = c.Wrap(tar).ToArray();
        var r = Store.UnpackLayer(new MemoryStream(zst));
        Assert.That(r.DiffId, Is.EqualTo(Sha(tar)));
        Assert.That(File.ReadAllText(Path.Combine(Store.LayerDir(r.DiffId), "etc/passwd")), Does.StartWith("root:"));
        var info = Store.ReadLayerInfo(r.DiffId)!;
        Assert.That(info.Blobs!.Single().Digest, Is.EqualTo(Sha(zst)));
        Assert.That(info.Blobs!.Single().MediaType, Is.EqualTo(MediaTypes.OciLayerZstd));
        Assert.That(File.ReadAllBytes(Store.ContentPath(Sha(zst))), Is.EqualTo(zst));
    }

    [Test]
    public void DigestOrDiffIdMismatchKeepsNothing()
    {
        var tar = Base();
        var gz = TarFixture.Gzip(tar);
        var wrong = new BlobRef { Digest = "sha256:" + new string('a', 64), MediaType = MediaTypes.OciLayerGzip, Size = gz.Length };
        Assert.That(() => Store.UnpackLayer(new MemoryStream(gz), wrong), Throws.TypeOf<RuntimeError>().With.Message.Contains("digest mismatch"));
        Assert.That(() => Store.UnpackLayer(new MemoryStream(gz), null, "sha256:" + new string('b', 64)),
            Throws.TypeOf<RuntimeError>().With.Message.Contains("the image config says"));
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(StoreRoot, "layers/sha256")), Is.Empty);
        Assert.That(Directory.GetDirectories(Path.Combine(StoreRoot, "layers")).Select(Path.GetFileName), Is.EqualTo(new[] { "sha256" }));
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(StoreRoot, "content/sha256")), Is.Empty);
    }

    Image Import(string name, string content) =>
        Store.Import(new MemoryStream(TarFixture.Gzip(new TarFixture().File("f", content).Bytes())), name, []);

    [Test]
    public void RmiUntagsThenDeletesAndCollectsLayersAndArchives()
    {
        var a = Import("a:1", "a");
        Store.Tag(ImageReference.Parse("b:1"), a.Id);
        var r1 = Store.Remove("a:1", force: false);
        Assert.That(r1.Lines, Is.EqualTo(new[] { "Untagged: a:1" }));
        Assert.That(Store.Resolve("b:1").Id, Is.EqualTo(a.Id));
        var r2 = Store.Remove("b:1", force: false);
        Assert.That(r2.Lines, Is.EqualTo(new[] { "Untagged: b:1", "Deleted: " + a.Id, "Deleted: " + a.Config.RootFs.DiffIds[0] }));
        Assert.That(r2.Reclaimed, Is.GreaterThan(0));
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(StoreRoot, "layers/sha256")), Is.Empty);
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(StoreRoot, "content/sha256")), Is.Empty);
        Assert.That(Store.List(), Is.Empty);
        Assert.That(() => Store.Remove("b:1", false), Throws.TypeOf<RuntimeError>().With.Message.EqualTo("Unable to find image 'b:1' locally"));
    }

    [Test]
    public void RmiRefusesAnImageAContainerUsesUnlessForcedAndKeepsItsLayers()
    {
        var a = Import("a:1", "a");
        var c = Path.Combine(StoreRoot, "containers", new string('c', 64));
        Directory.CreateDirectory(c);
        File.WriteAllText(Path.Combine(c, "config.json"),
            "{\"ociVersion\":\"1.2.0\",\"annotations\":{\"org.incrun.image\":\"a:1\",\"org.incrun.rootfs.overlay.lowerdir\":\"" + a.LayerDirs[0] + "\"}}");
        var e = Assert.Throws<RuntimeError>(() => Store.Remove("a:1", force: false));
        Assert.That(e!.Message, Is.EqualTo($"conflict: unable to remove repository reference \"a:1\" (must force) - container cccccccccccc is using its referenced image {a.ShortId}"));
        Assert.That(Store.Prune(all: true, Store.ImagesInUse()).Lines, Is.Empty, "prune -a keeps images in use");
        var forced = Store.Remove(a.Id, force: true);
        Assert.That(forced.Lines, Does.Contain("Deleted: " + a.Id));
        Assert.That(Directory.Exists(a.LayerDirs[0]), Is.True, "a layer a container uses stays");
    }

    [Test]
    public void PruneRemovesDanglingImagesOrWithAllEveryUnusedOne()
    {
        var old = Import("x:1", "old");
        var cur = Import("x:1", "new"); // moves the tag: old is dangling
        var other = Import("y:1", "y");
        var r = Store.Prune(all: false, new HashSet<string>());
        Assert.That(r.Lines, Does.Contain("Deleted: " + old.Id));
        Assert.That(Store.ImageIds(), Is.EquivalentTo(new[] { cur.Id, other.Id }));
        var all = Store.Prune(all: true, new HashSet<string> { cur.Id });
        Assert.That(all.Lines, Does.Contain("Untagged: y:1").And.Contain("Deleted: " + other.Id));
        Assert.That(Store.ImageIds(), Is.EqualTo(new[] { cur.Id }));
        Assert.That(Directory.GetDirectories(Path.Combine(StoreRoot, "layers/sha256")), Has.Length.EqualTo(1));
    }

    [Test]
    public void SaveThenLoadKeepsTheImageIdAndTags()
    {
        var a = Import("me/a:1", "content a");
        var archive = new MemoryStream();
        ImageArchive.Save(Store, ["me/a:1"], archive);
        var names = new List<string>();
        archive.Position = 0;
        using (var reader = new TarReader(archive, leaveOpen: true))
            while (reader.GetNextEntry() is { } e) names.Add(e.Name);
        Assert.That(names, Does.Contain("manifest.json").And.Contain("index.json").And.Contain("oci-layout").And.Contain("blobs/sha256/" + a.Id[7..]));

        var other = new ImageStore(Path.Combine(Dir, "other"));
        archive.Position = 0;
        var lines = ImageArchive.Load(other, archive);
        Assert.That(lines, Is.EqualTo(new[] { "Loaded image: me/a:1" }));
        var loaded = other.Resolve("me/a:1");
        Assert.That(loaded.Id, Is.EqualTo(a.Id));
        Assert.That(File.ReadAllText(Path.Combine(loaded.LayerDirs[0], "f")), Is.EqualTo("content a"));
        Assert.That(Directory.GetDirectories(Path.Combine(Dir, "other")).Select(Path.GetFileName), Has.None.StartsWith("tmp-load"));
    }

    [Test]
    public void LoadReadsAnOciLayoutAndRejectsABadBlob()
    {
        var a = Import("me/a:1", "content a");
        var archive = new MemoryStream();
        ImageArchive.Save(Store, ["me/a:1"], archive);
        // the same archive without manifest.json is a plain OCI layout
        var oci = Rewrite(archive.ToArray(), (name, data) => name == "manifest.json" ? null : data);
        var other = new ImageStore(Path.Combine(Dir, "oci"));
        Assert.That(ImageArchive.Load(other, new MemoryStream(oci)), Is.EqualTo(new[] { "Loaded image: me/a:1" }));
        Assert.That(other.Resolve("me/a:1").Id, Is.EqualTo(a.Id));

        var layerBlob = Store.ReadLayerInfo(a.Config.RootFs.DiffIds[0])!.Blobs![0].Digest;
        var bad = Rewrite(oci, (name, data) => name == "blobs/sha256/" + layerBlob[7..]
            ? TarFixture.Gzip(new TarFixture().File("f", "evil").Bytes()) : data);
        var third = new ImageStore(Path.Combine(Dir, "bad"));
        Assert.That(() => ImageArchive.Load(third, new MemoryStream(bad)), Throws.TypeOf<RuntimeError>().With.Message.Contains("digest mismatch"));
        Assert.That(third.ImageIds(), Is.Empty);
    }

    static byte[] Rewrite(byte[] archive, Func<string, byte[], byte[]?> change)
    {
        var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        using (var reader = new TarReader(new MemoryStream(archive)))
            while (reader.GetNextEntry(copyData: true) is { } e)
            {
                var ms = new MemoryStream();
                e.DataStream?.CopyTo(ms);
                var data = change(e.Name, ms.ToArray());
                if (data is null) continue;
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, e.Name) { DataStream = new MemoryStream(data) });
            }
        return output.ToArray();
    }

    [Test]
    public void CredentialsAreStoredRootOnly()
    {
        var creds = new CredentialStore(StoreRoot);
        creds.Set("https://index.docker.io/v1/", "me", "secret:with:colons");
        Assert.That(File.GetUnixFileMode(creds.Path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(creds.Get("docker.io"), Is.EqualTo(("me", "secret:with:colons")));
        Assert.That(creds.Get("localhost:5000"), Is.Null);
        Assert.That(creds.Remove("docker.io"), Is.True);
        Assert.That(creds.Remove("docker.io"), Is.False);
    }

    [Test]
    public void PlatformsParseAndMatchLikeDocker()
    {
        Assert.That(Platform.Parse("linux/arm64/v8"), Is.EqualTo(new Platform("linux", "arm64", null)));
        Assert.That(Platform.Parse("linux/x86_64").Architecture, Is.EqualTo("amd64"));
        Assert.That(Platform.Parse("linux/arm/v7").Matches(new PlatformSpec { Os = "linux", Architecture = "arm", Variant = "v7" }), Is.True);
        Assert.That(Platform.Parse("linux/arm/v7").Matches(new PlatformSpec { Os = "linux", Architecture = "arm", Variant = "v6" }), Is.False);
        Assert.That(Platform.Parse("linux/amd64").Matches(new PlatformSpec { Os = "windows", Architecture = "amd64" }), Is.False);
        Assert.That(() => Platform.Parse("linux//"), Throws.TypeOf<RuntimeError>());
    }

    [Test]
    public void BearerChallengesParse()
    {
        var p = RegistryClient.ParseParameters("realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/alpine:pull,push\"");
        Assert.That(p["realm"], Is.EqualTo("https://auth.docker.io/token"));
        Assert.That(p["service"], Is.EqualTo("registry.docker.io"));
        Assert.That(p["scope"], Is.EqualTo("repository:library/alpine:pull,push"));
    }

    [Test]
    public void PlainHttpOnlyForLoopbackOrOptIn()
    {
        var o = RegistryOptions.FromEnvironment(["registry.lan:5000"]);
        Assert.That(o.AllowsHttp("localhost:5000"), Is.True);
        Assert.That(o.AllowsHttp("127.0.0.1:34567"), Is.True);
        Assert.That(o.AllowsHttp("registry.lan:5000"), Is.True);
        Assert.That(o.AllowsHttp("registry.lan:5001"), Is.False);
        Assert.That(o.AllowsHttp("docker.io"), Is.False);
    }
}
