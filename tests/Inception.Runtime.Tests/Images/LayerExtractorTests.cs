using System.Formats.Tar;
using System.Security.Cryptography;
using Inception.Runtime.Errors;
using Inception.Runtime.Images;
using Inception.Runtime.Native;
using NUnit.Framework;
using static Inception.Runtime.Tests.Images.TarFixture;

namespace Inception.Runtime.Tests.Images;

[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class LayerExtractorTests : LayerTest
{
    string Layer => Path.Combine(Dir, "layer");

    LayerResult Extract(byte[] archive)
    {
        Directory.CreateDirectory(Layer);
        return LayerExtractor.Extract(new MemoryStream(archive), Layer);
    }

    static byte[] RichTar() => new TarFixture()
        .Dir("./")
        .Dir("./etc/", Mode755, mtime: new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero))
        .File("./etc/hostname", "box\n")
        .Dir("./bin/")
        .File("./bin/tool", "#!/bin/sh\necho hi\n", Mode755 | UnixFileMode.SetUser, uid: 1234, gid: 5678)
        .File("./bin/sgid", "x", Mode755 | UnixFileMode.SetGroup, uid: 1, gid: 2)
        .Dir("./tmp/", Mode755 | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.StickyBit)
        .Symlink("./bin/sh", "/bin/tool")
        .Symlink("./bin/rel", "../etc/hostname", uid: 7, gid: 8)
        .HardLink("./bin/tool2", "./bin/tool")
        .Node(TarEntryType.Fifo, "./tmp/fifo", mode: UnixFileMode.UserRead | UnixFileMode.UserWrite)
        .Node(TarEntryType.CharacterDevice, "./null", 1, 3, Mode644 | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)
        .Node(TarEntryType.BlockDevice, "./blk", 259, 300000)
        .File("./etc/attrs", "a", pax: [new("SCHILY.xattr.user.incrun", "hello"), new("SCHILY.xattr.user.empty", "")])
        .Bytes();

    [Test]
    public void ExtractsEveryEntryTypeWithItsMetadata()
    {
        var result = Extract(RichTar());

        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "etc/hostname")), Is.EqualTo("box\n"));
        var tool = LStat(Path.Combine(Layer, "bin/tool"));
        Assert.That(tool.Mode & 0xFFF, Is.EqualTo(0x9ED), "mode 4755 including setuid");
        Assert.That((tool.Uid, tool.Gid), Is.EqualTo((1234u, 5678u)));
        Assert.That(tool.Mtime.Sec, Is.EqualTo(MTime.ToUnixTimeSeconds()));
        Assert.That(tool.Nlink, Is.EqualTo(2UL));
        Assert.That(LStat(Path.Combine(Layer, "bin/tool2")).Ino, Is.EqualTo(tool.Ino), "hard link shares the inode");
        var sgid = LStat(Path.Combine(Layer, "bin/sgid"));
        Assert.That(sgid.Mode & 0xFFF, Is.EqualTo(0x5ED), "mode 2755 survives chown");
        Assert.That(System.IO.File.GetUnixFileMode(Path.Combine(Layer, "tmp")), Is.EqualTo((UnixFileMode)0x3FF), "1777");

        Assert.That(new FileInfo(Path.Combine(Layer, "bin/sh")).LinkTarget, Is.EqualTo("/bin/tool"));
        Assert.That(new FileInfo(Path.Combine(Layer, "bin/rel")).LinkTarget, Is.EqualTo("../etc/hostname"));
        var rel = LStat(Path.Combine(Layer, "bin/rel"));
        Assert.That((rel.Uid, rel.Gid), Is.EqualTo((7u, 8u)), "symlink owner set with lchown");

        var fifo = LStat(Path.Combine(Layer, "tmp/fifo"));
        Assert.That(fifo.Mode & Libc.S_IFMT, Is.EqualTo(Libc.S_IFIFO));
        Assert.That(fifo.Mode & 0xFFF, Is.EqualTo(0x180));
        var dev = LStat(Path.Combine(Layer, "null"));
        Assert.That(dev.Mode & Libc.S_IFMT, Is.EqualTo(Libc.S_IFCHR));
        Assert.That((Libc.Major(dev.Rdev), Libc.Minor(dev.Rdev)), Is.EqualTo((1u, 3u)));
        Assert.That(dev.Mode & 0xFFF, Is.EqualTo(0x1B6));
        var blk = LStat(Path.Combine(Layer, "blk"));
        Assert.That(blk.Mode & Libc.S_IFMT, Is.EqualTo(Libc.S_IFBLK));
        Assert.That((Libc.Major(blk.Rdev), Libc.Minor(blk.Rdev)), Is.EqualTo((259u, 300000u)));

        Assert.That(GetXattr(Path.Combine(Layer, "etc/attrs"), "user.incrun"), Is.EqualTo("hello"));
        Assert.That(GetXattr(Path.Combine(Layer, "etc/attrs"), "user.empty"), Is.EqualTo(""));

        Assert.That(LStat(Path.Combine(Layer, "etc")).Mtime.Sec, Is.EqualTo(new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds()),
            "directory mtime is applied after its children are created");
        Assert.That(LStat(Layer).Mtime.Sec, Is.EqualTo(MTime.ToUnixTimeSeconds()), "./ entry sets the root's metadata");
        Assert.That(result.Size, Is.EqualTo(4 + 18 + 1 + 1), "regular file bytes, hard link counted once");
    }

    [Test]
    public void DiffIdIsTheSha256OfTheUncompressedTar([Values] bool gzip)
    {
        var tar = RichTar();
        var result = Extract(gzip ? Gzip(tar) : tar);
        Assert.That(result.DiffId, Is.EqualTo("sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar))));
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "etc/hostname")), Is.EqualTo("box\n"));
    }

    [Test]
    public void TrailingBytesAfterTheEndOfArchiveAreHashed()
    {
        var tar = new TarFixture().File("a", "1").Bytes().Concat(new byte[10240]).ToArray();
        Assert.That(Extract(tar).DiffId, Is.EqualTo("sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar))));
    }

    [Test]
    public void GnuFormatLongNamesAndMissingParentDirectories()
    {
        var longName = string.Join('/', Enumerable.Range(0, 20).Select(i => $"directory{i:D2}")) + "/file";
        var tar = new TarFixture(TarEntryFormat.Gnu).File(longName, "deep").File("/abs/file", "abs").Bytes();
        Extract(tar);
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, longName)), Is.EqualTo("deep"));
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "abs/file")), Is.EqualTo("abs"));
        Assert.That(System.IO.File.GetUnixFileMode(Path.Combine(Layer, "directory00")), Is.EqualTo(Mode755));
    }

    [Test]
    public void LaterEntriesReplaceEarlierOnes()
    {
        var tar = new TarFixture()
            .File("f", "old").File("f", "new")
            .Dir("d", Mode755).File("d/keep", "k").Dir("d", UnixFileMode.UserRead | UnixFileMode.UserExecute, uid: 3)
            .Symlink("s", "/nowhere").File("s", "file now")
            .Dir("gone").File("gone/x", "x").File("gone", "not a dir any more")
            .Bytes();
        Extract(tar);
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "f")), Is.EqualTo("new"));
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "d/keep")), Is.EqualTo("k"), "a directory entry over a directory keeps its contents");
        Assert.That(LStat(Path.Combine(Layer, "d")).Uid, Is.EqualTo(3u));
        Assert.That(System.IO.File.GetUnixFileMode(Path.Combine(Layer, "d")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserExecute));
        Assert.That(new FileInfo(Path.Combine(Layer, "s")).LinkTarget, Is.Null);
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "s")), Is.EqualTo("file now"));
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "gone")), Is.EqualTo("not a dir any more"));
    }

    [Test]
    public void ReplacingADirectoryInvalidatesTheCachedParent()
    {
        var tar = new TarFixture()
            .Dir("p/").Dir("p/gone/").File("p/gone/x", "x").File("p/gone", "file") // parent "p" is cached meanwhile
            .Dir("d/").Dir("d/sub/").File("d/sub/f", "old").Symlink("d", "/").File("d/sub/g", "new")
            .Bytes();
        Extract(tar);
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "p/gone")), Is.EqualTo("file"));
        Assert.That(new FileInfo(Path.Combine(Layer, "d")).LinkTarget, Is.EqualTo("/"));
        Assert.That(System.IO.File.ReadAllText(Path.Combine(Layer, "sub/g")), Is.EqualTo("new"), "d/sub now resolves through the new symlink");
    }

    [Test]
    public void WhiteoutFilesBecomeTheirOverlayfsForm()
    {
        Extract(new TarFixture().File("etc/.wh.motd", "").File(".wh..wh..opq", "").Bytes());
        Assert.That(Exists(Path.Combine(Layer, "etc/.wh.motd")), Is.False);
        Assert.That(LStat(Path.Combine(Layer, "etc/motd")).Mode & Libc.S_IFMT, Is.EqualTo(Libc.S_IFCHR));
        Assert.That(GetXattr(Layer, "trusted.overlay.opaque"), Is.EqualTo("y"));
    }

    [Test]
    public void LargeFileContentIsCopiedExactly()
    {
        var data = new byte[5 * 1024 * 1024 + 123];
        new Random(42).NextBytes(data);
        Extract(Gzip(new TarFixture().File("big.bin", data).Bytes()));
        Assert.That(System.IO.File.ReadAllBytes(Path.Combine(Layer, "big.bin")), Is.EqualTo(data));
    }

    [Test]
    public void CorruptZstdArchivesFailWithOneLine()
    {
        Directory.CreateDirectory(Layer);
        var e = Assert.Throws<RuntimeError>(() => LayerExtractor.Extract(new MemoryStream([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), Layer));
        Assert.That(e!.Message, Does.StartWith("layer: "));
    }

    [Test]
    public void EmptyInputIsRefused()
    {
        Directory.CreateDirectory(Layer);
        var e = Assert.Throws<RuntimeError>(() => LayerExtractor.Extract(new MemoryStream(), Layer));
        Assert.That(e!.Message, Is.EqualTo("layer: the archive is empty"));
    }

    [Test]
    public void TruncatedAndGarbageArchivesFailWithOneLine()
    {
        var tar = new TarFixture().File("a", new byte[100_000]).File("b", "b").Bytes();
        var truncated = tar[..50_000];
        Directory.CreateDirectory(Layer);
        var e = Assert.Throws<RuntimeError>(() => LayerExtractor.Extract(new MemoryStream(truncated), Layer));
        Assert.That(e!.Message, Does.StartWith("layer: "));
        Assert.That(e.Message, Does.Not.Contain("\n"));

        var data = new byte[300_000];
        new Random(3).NextBytes(data);
        var gz = Gzip(new TarFixture().File("r", data).Bytes());
        var z = Assert.Throws<RuntimeError>(() => LayerExtractor.Extract(new MemoryStream(gz[..(gz.Length / 2)]), Layer));
        Assert.That(z!.Message, Does.StartWith("layer: "));

        var garbage = new byte[4096];
        new Random(1).NextBytes(garbage);
        garbage[0] = 0x42; // not a compression magic
        var g = Assert.Throws<RuntimeError>(() => LayerExtractor.Extract(new MemoryStream(garbage), Layer));
        Assert.That(g!.Message, Does.StartWith("layer: not a valid tar archive"));
    }
}
