using Inception.Runtime.Errors;
using Inception.Runtime.Images;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Images;

[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ImageReferenceTests
{
    const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [TestCase("busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest", "busybox:latest", "busybox")]
    [TestCase("busybox:1.36", "docker.io", "library/busybox", "1.36", null, "docker.io/library/busybox:1.36", "busybox:1.36", "busybox")]
    [TestCase("library/busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest", "busybox:latest", "busybox")]
    [TestCase("docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest", "busybox:latest", "busybox")]
    [TestCase("index.docker.io/busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest", "busybox:latest", "busybox")]
    [TestCase("me/x:1", "docker.io", "me/x", "1", null, "docker.io/me/x:1", "me/x:1", "me/x")]
    [TestCase("docker.io/library/a/b", "docker.io", "library/a/b", "latest", null, "docker.io/library/a/b:latest", "library/a/b:latest", "library/a/b")]
    [TestCase("localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag", null, "localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b")]
    [TestCase("localhost/app", "localhost", "app", "latest", null, "localhost/app:latest", "localhost/app:latest", "localhost/app")]
    [TestCase("ghcr.io/o/img:v1.2.3-rc_1", "ghcr.io", "o/img", "v1.2.3-rc_1", null, "ghcr.io/o/img:v1.2.3-rc_1", "ghcr.io/o/img:v1.2.3-rc_1", "ghcr.io/o/img")]
    [TestCase("a_b-c__d/e.f", "docker.io", "a_b-c__d/e.f", "latest", null, "docker.io/a_b-c__d/e.f:latest", "a_b-c__d/e.f:latest", "a_b-c__d/e.f")]
    [TestCase("name@sha256:" + Hex, "docker.io", "library/name", null, "sha256:" + Hex, "docker.io/library/name@sha256:" + Hex, "name@sha256:" + Hex, "name")]
    [TestCase("name:t@sha256:" + Hex, "docker.io", "library/name", "t", "sha256:" + Hex, "docker.io/library/name:t@sha256:" + Hex, "name:t@sha256:" + Hex, "name")]
    public void Normalises(string text, string domain, string path, string? tag, string? digest, string canonical, string familiar, string repository)
    {
        var r = ImageReference.Parse(text);
        Assert.That((r.Domain, r.Path, r.Tag, r.Digest), Is.EqualTo((domain, path, tag, digest)));
        Assert.That(r.Canonical, Is.EqualTo(canonical));
        Assert.That(r.Familiar, Is.EqualTo(familiar));
        Assert.That(r.Repository, Is.EqualTo(repository));
        Assert.That(ImageReference.Parse(r.Canonical), Is.EqualTo(r), "canonical form parses to the same reference");
    }

    [TestCase("")]
    [TestCase("Busybox")]
    [TestCase("docker.io/Library/busybox")]
    [TestCase("busybox:")]
    [TestCase(":tag")]
    [TestCase("bad!name")]
    [TestCase("a//b")]
    [TestCase("-abc")]
    [TestCase("abc-")]
    [TestCase("busybox:tag with space")]
    [TestCase("busybox:-tag")]
    [TestCase("name@sha256:abc")]
    [TestCase("name@sha256:0123456789abcdef0123456789abcdef")]
    public void RejectsInvalidReferences(string text)
    {
        var e = Assert.Throws<RuntimeError>(() => ImageReference.Parse(text));
        Assert.That(e!.Message, Does.StartWith("invalid reference format: "));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void UppercaseIsNamedInTheMessage() =>
        Assert.That(() => ImageReference.Parse("Busybox"), Throws.TypeOf<RuntimeError>()
            .With.Message.EqualTo("invalid reference format: repository name \"Busybox\" must be lowercase"));

    [Test]
    public void LongTagsAreRejected() =>
        Assert.That(() => ImageReference.Parse("a:" + new string('t', 129)), Throws.TypeOf<RuntimeError>());
}
