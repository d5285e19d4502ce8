using System.Security.Cryptography;
using System.Text;
using Inception.Runtime.Errors;
using Inception.Runtime.Images;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Images;

[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ImageStoreTests : LayerTest
{
    string StoreRoot => Path.Combine(Dir, "store");
    ImageStore Store => new(StoreRoot);

    static byte[] RootfsTar(string passwd = "root:x:0:0:root:/root:/bin/sh\n") => new TarFixture()
        .Dir("./").Dir("./bin/").File("./bin/busybox", new byte[1000], TarFixture.Mode755)
        .Symlink("./bin/sh", "busybox").Dir("./etc/").File("./etc/passwd", passwd)
        .File("./etc/group", "root:x:0:\n").Bytes();

    Image Import(byte[] tar, string? reference, params string[] changes) =>
        Store.Import(new MemoryStream(TarFixture.Gzip(tar)), reference, changes);

    [Test]
    public void ImportThenResolveByEveryKindOfName()
    {
        var tar = RootfsTar();
        var image = Import(tar, "busybox", "CMD [\"sh\"]", "ENV A=1");

        Assert.That(image.Id, Does.Match("^sha256:[0-9a-f]{64}$"));
        Assert.That(image.ShortId, Is.EqualTo(image.Id[7..19]));
        Assert.That(image.RepoTags, Is.EqualTo(new[] { "busybox:latest" }));
        Assert.That(image.Config.Config.Cmd, Is.EqualTo(new[] { "sh" }));
        Assert.That(image.Config.Config.Env, Is.EqualTo(new[] { "A=1" }));
        Assert.That(image.Config.Os, Is.EqualTo("linux"));
        Assert.That(image.Config.Architecture, Is.EqualTo("amd64"));
        Assert.That(image.Config.RootFs.DiffIds, Is.EqualTo(new[] { "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar)) }));
        Assert.That(image.Config.History![0].CreatedBy, Is.EqualTo("incrun import"));
        Assert.That(image.Config.Created!.Value, Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
        Assert.That(image.LayerDirs, Has.Count.EqualTo(1));
        Assert.That(image.LayerDirs[0], Is.EqualTo(Path.Combine(StoreRoot, "layers/sha256", image.Config.RootFs.DiffIds[0][7..])));
        Assert.That(new FileInfo(Path.Combine(image.LayerDirs[0], "bin/sh")).LinkTarget, Is.EqualTo("busybox"));
        Assert.That(image.Size, Is.EqualTo(1000 + 30 + 10));

        var blob = File.ReadAllBytes(Path.Combine(StoreRoot, "blobs/sha256", image.Id[7..]));
        Assert.That("sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob)), Is.EqualTo(image.Id), "id is the config digest");
        var json = Encoding.UTF8.GetString(blob);
        Assert.That(json, Does.Contain("\"config\":{\"Env\":[\"A=1\"],\"Cmd\":[\"sh\"]}").Or.Contain("\"Cmd\":[\"sh\"]"));
        Assert.That(json, Does.Contain("\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"));
        Assert.That(File.ReadAllText(Path.Combine(StoreRoot, "images/index.json")), Does.Contain("\"docker.io/library/busybox:latest\""));

        foreach (var name in new[] { "busybox", "busybox:latest", "docker.io/library/busybox:latest", "library/busybox",
                     image.Id, image.Id[7..], image.ShortId, image.Id[7..11] })
            Assert.That(Store.Resolve(name).Id, Is.EqualTo(image.Id), name);
    }

    [Test]
    public void ReimportingTheSameTarSharesTheLayer()
    {
        var a = Import(RootfsTar(), "a:1");
        var b = Import(RootfsTar(), "me/b:2", "USER 1000");
        Assert.That(b.Id, Is.Not.EqualTo(a.Id));
        Assert.That(b.LayerDirs, Is.EqualTo(a.LayerDirs));
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(StoreRoot, "layers")).Select(Path.GetFileName), Is.EquivalentTo(new[] { "sha256" }));
        Assert.That(Directory.GetDirectories(Path.Combine(StoreRoot, "layers/sha256")), Has.Length.EqualTo(1));
        Assert.That(Store.Resolve("me/b:2").RepoTags, Is.EqualTo(new[] { "me/b:2" }));
        Assert.That(Store.Resolve("docker.io/me/b:2").Config.Config.User, Is.EqualTo("1000"));
    }

    [Test]
    public void ListShowsTagsAndUntaggedImages()
    {
        var old = Import(RootfsTar(), "busybox");
        var other = Import(RootfsTar("other\n"), "localhost:5000/x/y:v1");
        var moved = Import(RootfsTar("newest\n"), "busybox", "CMD sh");
        Store.Tag(ImageReference.Parse("alias"), moved.Id);

        var rows = Store.List();
        Assert.That(rows.Select(r => (r.Repository, r.Tag, r.Id)), Is.EquivalentTo(new[]
        {
            ("busybox", "latest", moved.Id), ("alias", "latest", moved.Id),
            ("localhost:5000/x/y", "v1", other.Id), ("<none>", "<none>", old.Id),
        }));
        Assert.That(rows[0].Id, Is.EqualTo(moved.Id), "newest first");
        Assert.That(rows.First(r => r.Id == other.Id).Size, Is.EqualTo(1000 + 6 + 10));
        Assert.That(Store.Resolve(old.Id).RepoTags, Is.Empty, "the tag moved off the older image");
        Assert.That(Store.Resolve("busybox").Config.Config.Cmd, Is.EqualTo(new[] { "/bin/sh", "-c", "sh" }));
    }

    [Test]
    public void MissingImagesAreReportedLikeDocker()
    {
        var e = Assert.Throws<RuntimeError>(() => Store.Resolve("nothere"));
        Assert.That(e!.Message, Is.EqualTo("Unable to find image 'nothere:latest' locally"));
        Assert.That(e.ExitCode, Is.EqualTo(125));
        Import(RootfsTar(), "busybox");
        Assert.That(() => Store.Resolve("busybox:1.0"), Throws.TypeOf<RuntimeError>().With.Message.EqualTo("Unable to find image 'busybox:1.0' locally"));
        Assert.That(() => Store.Resolve("ffffffffffff"), Throws.TypeOf<RuntimeError>().With.Message.EqualTo("Unable to find image 'ffffffffffff:latest' locally"));
        Assert.That(() => Store.Resolve("Bad Name"), Throws.TypeOf<RuntimeError>().With.Message.StartWith("invalid reference format"));
    }

    [Test]
    public void InvalidChangesFailBeforeAnythingIsUnpacked()
    {
        var e = Assert.Throws<RuntimeError>(() => Import(RootfsTar(), "x", "RUN echo hi"));
        Assert.That(e!.Message, Does.StartWith("import --change: unsupported instruction \"RUN\""));
        Assert.That(Directory.Exists(Path.Combine(StoreRoot, "layers")), Is.False);
        Assert.That(() => Import(RootfsTar(), "Bad:tag"), Throws.TypeOf<RuntimeError>().With.Message.StartWith("invalid reference format"));
    }

    [Test]
    public void ReadFileLooksThroughLayersTopDownAndStaysInsideEachLayer()
    {
        var image = Import(RootfsTar("from import\n"), "busybox");
        Assert.That(Encoding.UTF8.GetString(ImageStore.ReadFile(image, "/etc/passwd")!), Is.EqualTo("from import\n"));
        Assert.That(ImageStore.ReadFile(image, "/etc/shadow"), Is.Null);
        Assert.That(ImageStore.ReadFile(image, "/etc/passwd/x"), Is.Null);

        var upper = Path.Combine(Dir, "upper");
        Directory.CreateDirectory(Path.Combine(upper, "etc"));
        File.WriteAllText(Path.Combine(upper, "etc/group"), "upper group\n");
        File.CreateSymbolicLink(Path.Combine(upper, "etc/passwd"), "../../../../../../../../etc/group");
        File.CreateSymbolicLink(Path.Combine(upper, "hostgroup"), "/etc/group");
        File.CreateSymbolicLink(Path.Combine(upper, "loop"), "/loop");
        var layered = new Image(image.Id, image.Config, [image.LayerDirs[0], upper], () => image.RepoTags, () => image.Size);

        Assert.That(Encoding.UTF8.GetString(ImageStore.ReadFile(layered, "/etc/group")!), Is.EqualTo("upper group\n"), "top layer wins");
        Assert.That(Encoding.UTF8.GetString(ImageStore.ReadFile(layered, "/etc/passwd")!), Is.EqualTo("upper group\n"),
            "a symlink resolves inside the image, never to the host's /etc/group");
        Assert.That(Encoding.UTF8.GetString(ImageStore.ReadFile(layered, "hostgroup")!), Is.EqualTo("upper group\n"));
        Assert.That(Encoding.UTF8.GetString(ImageStore.ReadFile(layered, "/bin/busybox")!), Is.EqualTo(new string('\0', 1000)), "lower layer");
        Assert.That(() => ImageStore.ReadFile(layered, "/loop"), Throws.TypeOf<RuntimeError>()
            .With.Message.EqualTo($"openat2({upper}:/loop): Too many levels of symbolic links"));
        Assert.That(() => ImageStore.ReadFile(layered, "/etc"), Throws.TypeOf<RuntimeError>().With.Message.Contains("not a regular file"));
    }
}
