using Inception.Runtime.Tests.Registry;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>
/// incrun against a real registry (Debian's docker-registry) on 127.0.0.1: push, pull, run from the pulled
/// image, multi-layer images with whiteouts, zstd, manifest lists, errors. Each test pulls into a fresh state
/// root of its own so nothing is already there.
/// </summary>
[TestFixture]
public class RegistryTests : ContainerTest
{
    LocalRegistry _registry = null!;
    string _root = "";

    [OneTimeSetUp]
    public void StartRegistry()
    {
        if (!Incrun.IsRoot) Assert.Ignore("integration tests need root");
        if (!LocalRegistry.Available) Assert.Fail($"{LocalRegistry.Binary} is missing (build.sh installs docker-registry)");
        _registry = new LocalRegistry();
    }

    [OneTimeTearDown]
    public void StopRegistry() => _registry?.Dispose();

    [SetUp]
    public void FreshRoot()
    {
        _root = Path.Combine(Path.GetTempPath(), "incrun-pull-" + Guid.NewGuid().ToString("N")[..10]);
    }

    [TearDown]
    public void RemoveRoot()
    {
        var containers = Path.Combine(_root, "containers");
        var left = Directory.Exists(containers) ? Directory.GetDirectories(containers) : [];
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
        Assert.That(left, Is.Empty, "container directories left in the pull root");
    }

    /// <summary>incrun with the test's fresh state root.</summary>
    RunResult In(params string[] args) => Incrun.Run(["--root", _root, .. args]);

    string Name(string repo) => $"{_registry.Host}/{repo}";

    [Test]
    public void PushThenPullBackKeepsTheDigestAndTheImageRuns()
    {
        var name = Name("it/busybox:1");
        var tag = Run("tag", "busybox", name);
        Assert.That(tag.ExitCode, Is.Zero, tag.ToString());
        var push = Run("push", name);
        Assert.That(push.ExitCode, Is.Zero, push.ToString());
        Assert.That(push.Stdout, Does.Contain($"The push refers to repository [{_registry.Host}/it/busybox]"));
        Assert.That(push.Stdout, Does.Match(@"\w{12}: Pushed"));
        var digest = System.Text.RegularExpressions.Regex.Match(push.Stdout, @"1: digest: (sha256:[0-9a-f]{64}) size: \d+").Groups[1].Value;
        Assert.That(digest, Is.Not.Empty, push.Stdout);

        var again = Run("push", name);
        Assert.That(again.Stdout, Does.Contain("Layer already exists").And.Contain($"digest: {digest}"), again.ToString());

        var pull = In("pull", name);
        Assert.That(pull.ExitCode, Is.Zero, pull.ToString());
        Assert.That(pull.Stdout, Does.Contain("1: Pulling from it/busybox").And.Contain("Pull complete")
            .And.Contain($"Digest: {digest}").And.Contain($"Status: Downloaded newer image for {name}"));
        Assert.That(pull.Stdout.TrimEnd().Split('\n')[^1], Is.EqualTo(name));
        var images = In("images", "--digests");
        Assert.That(images.Stdout, Does.Contain(digest), images.ToString());

        Assert.That(In("pull", name).Stdout, Does.Contain($"Status: Image is up to date for {name}"));
        Assert.That(In("pull", "-q", name).Stdout, Is.EqualTo(name + "\n"));

        var run = In("run", "--rm", name, "cat", "/etc/passwd");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Stdout, Does.StartWith("root:x:0:0:"));

        // the same image from the pulled store pushes to a new repository by mounting its layer
        Assert.That(In("tag", name, Name("it/copy:2")).ExitCode, Is.Zero);
        var mount = In("push", Name("it/copy:2"));
        Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
        Assert.That(mount.Stdout, Does.Contain("Mounted from").And.Contain($"2: digest: {digest}"), "same manifest, same digest");
    }

    [Test]
    public void MultiLayerImageWithWhiteoutsOpaqueDirAndZstdRunsWithDeletedFilesInvisible()
    {
        var layers = new[]
        {
            TestImages.BusyboxLayer(),
            TestLayer.Gzipped(TestImages.WhiteoutTar()),
            TestLayer.Zstded(TestImages.FileTar("added", "zstd layer\n")),
        };
        TestImages.Push(_registry, "it/multi", "1", layers);
        var pull = In("pull", Name("it/multi:1"));
        Assert.That(pull.ExitCode, Is.Zero, pull.ToString());
        Assert.That(pull.Stdout.Split('\n').Count(l => l.EndsWith(": Pull complete")), Is.EqualTo(3), pull.Stdout);

        var run = In("run", "--rm", Name("it/multi:1"), "sh", "-c",
            "test -e /etc/group && echo group-visible; ls -A /home; cat /added; test -e /etc/passwd && echo passwd");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Stdout, Is.EqualTo("new.txt\nzstd layer\npasswd\n"), "whiteout hides /etc/group, the opaque /home hides incrun/");

        // the layer on disk is in overlayfs form
        var layerDirs = Directory.GetDirectories(Path.Combine(_root, "layers/sha256"));
        var whiteout = layerDirs.Select(d => Path.Combine(d, "etc/group"))
            .Single(p => Inception.Runtime.Tests.Images.LayerTest.Exists(p) && (Inception.Runtime.Tests.Images.LayerTest.LStat(p).Mode & Native.Libc.S_IFMT) == Native.Libc.S_IFCHR);
        var st = Inception.Runtime.Tests.Images.LayerTest.LStat(whiteout);
        Assert.That(st.Mode & Native.Libc.S_IFMT, Is.EqualTo(Native.Libc.S_IFCHR));
        Assert.That(st.Rdev, Is.Zero);
        Assert.That(Inception.Runtime.Tests.Images.LayerTest.GetXattr(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(whiteout))!, "home"), "trusted.overlay.opaque"), Is.EqualTo("y"));

        // a second image sharing the bottom layers fetches only its own
        TestImages.Push(_registry, "it/multi", "2", [layers[0], layers[1], TestLayer.Gzipped(TestImages.FileTar("other", "x"))]);
        var second = In("pull", Name("it/multi:2"));
        Assert.That(second.Stdout.Split('\n').Count(l => l.EndsWith(": Already exists")), Is.EqualTo(2), second.Stdout);
    }

    [Test]
    public void RunPullsAMissingImageLikeDocker()
    {
        TestImages.Push(_registry, "it/runpull", "latest", [TestImages.BusyboxLayer(), TestLayer.Gzipped(TestImages.FileTar("msg", "pulled by run\n"))]);
        var run = In("run", "--rm", Name("it/runpull"), "cat", "/msg");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Stdout, Is.EqualTo("pulled by run\n"));
        Assert.That(run.Stderr, Does.StartWith($"Unable to find image '{Name("it/runpull:latest")}' locally\n"));
        Assert.That(run.Stderr, Does.Contain("Status: Downloaded newer image"));
    }

    [Test]
    public void ManifestListSelectsTheHostPlatformOrTheOneAsked()
    {
        var amd = TestImages.Push(_registry, "it/multiarch", null, [TestImages.BusyboxLayer(), TestLayer.Gzipped(TestImages.FileTar("arch", "amd64\n"))]);
        var armLayers = new[] { TestLayer.Gzipped(TestImages.FileTar("arch", "arm64\n")) };
        var arm = TestImages.Push(_registry, "it/multiarch", null, armLayers, arch: "arm64");
        TestImages.PushIndex(_registry, "it/multiarch", "1", (arm.Digest, arm.Manifest.Length, "arm64"), (amd.Digest, amd.Manifest.Length, "amd64"));

        var run = In("run", "--rm", Name("it/multiarch:1"), "cat", "/arch");
        Assert.That(run.Stdout, Is.EqualTo("amd64\n"), run.ToString());

        var arm64 = In("pull", "--platform", "linux/arm64", Name("it/multiarch:1"));
        Assert.That(arm64.ExitCode, Is.Zero, arm64.ToString());
        var inspect = In("image", "inspect", Name("it/multiarch:1"));
        Assert.That(inspect.Stdout, Does.Contain("\"Architecture\": \"arm64\""), inspect.ToString());

        var none = In("pull", "--platform", "linux/s390x", Name("it/multiarch:1"));
        Assert.That(none.ExitCode, Is.EqualTo(125));
        Assert.That(none.Stderr, Does.Contain("no matching manifest for linux/s390x in the manifest list entries"));
    }

    [Test]
    public void MissingRepositoryOrTagAreOneLineErrors()
    {
        var repo = In("pull", Name("it/nosuch"));
        Assert.That(repo.ExitCode, Is.EqualTo(125));
        Assert.That(repo.Stderr.Trim().Split('\n')[^1], Does.StartWith($"incrun: pull {Name("it/nosuch:latest")}: "));
        Assert.That(repo.Stderr, Does.Contain("not found"));
        Assert.That(Directory.Exists(Path.Combine(_root, "layers/sha256")) ? Directory.GetFileSystemEntries(Path.Combine(_root, "layers/sha256")) : [], Is.Empty);

        var badScheme = In("pull", "127.0.0.1:1/x");
        Assert.That(badScheme.ExitCode, Is.EqualTo(125));
        Assert.That(badScheme.Stderr, Does.StartWith("incrun: pull 127.0.0.1:1/x:latest: ").And.Contain("refused"));
    }

    [Test]
    public void CorruptBlobIsRejectedAndLeavesNothing()
    {
        // an uncompressed layer: the forged one has the same length, so only the digest can tell
        var tar = TestImages.FileTar("payload", "the real content\n");
        var layer = new TestLayer(tar, TestLayer.Plain, tar);
        TestImages.Push(_registry, "it/corrupt", "1", [TestImages.BusyboxLayer(), layer]);
        var data = _registry.BlobDataPath(LocalRegistry.Digest(layer.Blob));
        var forged = TestImages.FileTar("payload", "forged content!!\n");
        Assert.That(forged, Has.Length.EqualTo(tar.Length));
        File.WriteAllBytes(data, forged);

        var pull = In("pull", Name("it/corrupt:1"));
        Assert.That(pull.ExitCode, Is.EqualTo(125), pull.ToString());
        Assert.That(pull.Stderr, Does.Contain($"layer {LocalRegistry.Digest(layer.Blob)}: digest mismatch"));
        var shaDir = Path.Combine(_root, "layers/sha256");
        Assert.That(Directory.GetDirectories(Path.Combine(_root, "layers")).Select(Path.GetFileName), Is.EquivalentTo(new[] { "sha256" }), "no temporary layer dir left");
        Assert.That(Directory.GetDirectories(shaDir).Select(d => Path.GetFileName(d)), Has.None.EqualTo(LocalRegistry.Digest(layer.Tar)[7..]));
        Assert.That(Directory.GetFiles(Path.Combine(_root, "content/sha256")).Select(Path.GetFileName), Has.None.StartsWith(".tmp"));
        Assert.That(In("images", "-q").Stdout, Is.Empty);
    }

    [Test]
    public void ArtifactsAndUnknownMediaTypesAreRefused()
    {
        var layers = new[] { TestLayer.Gzipped(TestImages.FileTar("a", "a")) };
        TestImages.Push(_registry, "it/artifact", "1", layers, configMediaType: "application/vnd.example.thing.config.v1+json");
        var pull = In("pull", Name("it/artifact:1"));
        Assert.That(pull.ExitCode, Is.EqualTo(125));
        Assert.That(pull.Stderr, Does.Contain("config media type \"application/vnd.example.thing.config.v1+json\" is not an image config"));

        var weird = new[] { new TestLayer(layers[0].Blob, "application/vnd.example.blob", layers[0].Tar) };
        TestImages.Push(_registry, "it/artifact", "2", weird);
        var pull2 = In("pull", Name("it/artifact:2"));
        Assert.That(pull2.Stderr, Does.Contain("has unsupported media type \"application/vnd.example.blob\""));
    }
}
