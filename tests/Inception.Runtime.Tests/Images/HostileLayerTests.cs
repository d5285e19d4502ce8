using Inception.Runtime.Errors;
using Inception.Runtime.Images;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Images;

/// <summary>Archives that try to write or link outside the layer directory.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class HostileLayerTests : LayerTest
{
    // <Dir>/a/b/layer: "../../.." from the layer reaches /tmp's level, so escapes would be visible in Dir.
    string Layer => Path.Combine(Dir, "a", "b", "layer");
    string Unique { get; } = "incrun-sentinel-" + Guid.NewGuid().ToString("N")[..10];

    void Extract(byte[] tar)
    {
        Directory.CreateDirectory(Layer);
        LayerExtractor.Extract(new MemoryStream(tar), Layer);
    }

    /// <summary>Nothing may appear anywhere above the layer: in Dir, in /tmp or in /.</summary>
    void AssertNothingOutside()
    {
        var outside = Walk(Dir)
            .Where(p => !p.StartsWith(Layer + "/", StringComparison.Ordinal) && p != Layer)
            .Select(p => p[Dir.Length..]).ToList();
        Assert.That(outside, Is.EquivalentTo(new[] { "/a", "/a/b" }), "entries created outside the layer");
        Assert.That(Exists("/" + Unique), Is.False, "a file appeared in the host's /");
        Assert.That(Exists("/tmp/" + Unique), Is.False, "a file appeared in the host's /tmp");
    }

    [TestCase("../evil")]
    [TestCase("./../evil")]
    [TestCase("a/../../evil")]
    [TestCase("/abs/../../evil")]
    public void DotDotEscapesAreRejected(string name)
    {
        var e = Assert.Throws<RuntimeError>(() => Extract(new TarFixture().File(name, "x").Bytes()));
        Assert.That(e!.Message, Is.EqualTo($"layer: entry \"{name}\" escapes the layer root"));
        AssertNothingOutside();
        Assert.That(Exists(Path.Combine(Dir, "a", "evil")), Is.False);
    }

    [Test]
    public void DotDotThatStaysInsideIsCleaned()
    {
        Extract(new TarFixture().File("x/y/../../z", "ok").Bytes());
        Assert.That(File.ReadAllText(Path.Combine(Layer, "z")), Is.EqualTo("ok"));
        AssertNothingOutside();
    }

    [TestCase("/")]
    [TestCase("../../..")]
    [TestCase("/../..")]
    public void FilesBelowASymlinkToOutsideLandInsideTheLayer(string target)
    {
        Extract(new TarFixture().Symlink("link", target).File($"link/{Unique}", "inside").Bytes());
        AssertNothingOutside();
        Assert.That(File.ReadAllText(Path.Combine(Layer, Unique)), Is.EqualTo("inside"), "resolved as if the layer were /");
        Assert.That(new FileInfo(Path.Combine(Layer, "link")).LinkTarget, Is.EqualTo(target), "symlink stored verbatim");
    }

    [Test]
    public void ASymlinkToAHostDirectoryMissingFromTheLayerIsRefused()
    {
        var e = Assert.Throws<RuntimeError>(() => Extract(new TarFixture().Symlink("link", "/tmp").File($"link/{Unique}", "x").Bytes()));
        Assert.That(e!.Message, Is.EqualTo("layer: openat2(link): No such file or directory"));
        AssertNothingOutside();
    }

    [Test]
    public void ChainedSymlinksToOutsideStayInside()
    {
        var tar = new TarFixture()
            .Symlink("up", "..").Symlink("d/up2", "../up/../..").Dir("d/real")
            .File($"d/up2/up/{Unique}", "x").Bytes();
        try { Extract(tar); }
        catch (RuntimeError) { /* refusing is fine too */ }
        AssertNothingOutside();
    }

    [Test]
    public void AFileEntryReplacesASymlinkInsteadOfWritingThroughIt()
    {
        var victim = Path.Combine(Dir, "victim");
        File.WriteAllText(victim, "original");
        var tar = new TarFixture().Symlink("passwd", victim).File("passwd", "overwritten").Bytes();
        Extract(tar);
        Assert.That(File.ReadAllText(victim), Is.EqualTo("original"));
        Assert.That(new FileInfo(Path.Combine(Layer, "passwd")).LinkTarget, Is.Null);
        Assert.That(File.ReadAllText(Path.Combine(Layer, "passwd")), Is.EqualTo("overwritten"));
    }

    [Test]
    public void ADirectoryEntryDoesNotChmodThroughASymlink()
    {
        var victim = Path.Combine(Dir, "victimdir");
        Directory.CreateDirectory(victim);
        File.SetUnixFileMode(victim, TarFixture.Mode755);
        Extract(new TarFixture().Symlink("d", victim).Dir("d", (UnixFileMode)0x1FF, uid: 4321).Bytes());
        Assert.That(File.GetUnixFileMode(victim), Is.EqualTo(TarFixture.Mode755));
        Assert.That(LStat(victim).Uid, Is.Zero);
        Assert.That(Directory.Exists(Path.Combine(Layer, "d")) && new DirectoryInfo(Path.Combine(Layer, "d")).LinkTarget is null, Is.True);
    }

    [TestCase("/etc/passwd")]
    [TestCase("etc/passwd")]
    [TestCase("../../etc/passwd")]
    [TestCase("../../../../../../../../etc/passwd")]
    [TestCase("hostetc/passwd")]
    [TestCase("sym")]
    public void HardLinksNeverReachHostFiles(string target)
    {
        var before = LStat("/etc/passwd");
        var tar = new TarFixture().Symlink("hostetc", "/etc").Symlink("sym", "/etc/passwd").HardLink("pw", target).Bytes();
        try { Extract(tar); }
        catch (RuntimeError e) { Assert.That(e.Message, Does.StartWith("layer: ")); }
        Assert.That(LStat("/etc/passwd").Nlink, Is.EqualTo(before.Nlink), "host /etc/passwd gained a link");
        if (Directory.Exists(Layer))
            foreach (var f in Walk(Layer))
                Assert.That(LStat(f).Ino == before.Ino && LStat(f).Dev == before.Dev, Is.False, $"{f} is the host's /etc/passwd");
        AssertNothingOutside();
    }

    [Test]
    public void HardLinkThroughASymlinkedParentResolvesInsideTheLayer()
    {
        var tar = new TarFixture().Dir("etc").File("etc/passwd", "layer's own").Symlink("hostetc", "/etc")
            .HardLink("pw", "hostetc/passwd").Bytes();
        Extract(tar);
        Assert.That(LStat(Path.Combine(Layer, "pw")).Ino, Is.EqualTo(LStat(Path.Combine(Layer, "etc/passwd")).Ino));
        Assert.That(File.ReadAllText(Path.Combine(Layer, "pw")), Is.EqualTo("layer's own"));
    }

    [Test]
    public void FailedImportLeavesNoTemporaryDirectory()
    {
        var store = new ImageStore(Path.Combine(Dir, "store"));
        var good = new TarFixture().Symlink("root", "/").Dir("d").File("d/f", new byte[200_000]).Bytes();
        var truncated = good[..100_000];
        var e = Assert.Throws<RuntimeError>(() => store.Import(new MemoryStream(truncated), "bad:1", []));
        Assert.That(e!.Message, Does.StartWith("layer: "));
        Assert.That(Directory.EnumerateFileSystemEntries(Path.Combine(Dir, "store", "layers")).Select(Path.GetFileName),
            Is.EquivalentTo(new[] { "sha256" }));
        Assert.That(Directory.EnumerateFileSystemEntries(Path.Combine(Dir, "store", "layers", "sha256")), Is.Empty);
        Assert.That(Exists("/etc/passwd"), Is.True);

        var garbage = new byte[3000];
        new Random(7).NextBytes(garbage);
        garbage[0] = (byte)'x';
        Assert.Throws<RuntimeError>(() => store.Import(new MemoryStream(garbage), "bad:2", []));
        Assert.That(Directory.EnumerateFileSystemEntries(Path.Combine(Dir, "store", "layers")).Select(Path.GetFileName),
            Is.EquivalentTo(new[] { "sha256" }));
        Assert.That(() => store.Resolve("bad:1"), Throws.TypeOf<RuntimeError>());
    }
}
