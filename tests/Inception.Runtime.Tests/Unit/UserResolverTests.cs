using System.Text;
using Inception.Runtime.Errors;
using Inception.Runtime.Run;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>docker's -u against an image's /etc/passwd and /etc/group (beyond what SpecGeneratorTests covers).</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class UserResolverTests
{
    static readonly byte[] Passwd = SpecGeneratorTests.Passwd, Group = SpecGeneratorTests.Group;

    static string Error(string spec, byte[]? passwd, byte[]? group) =>
        Assert.Throws<RuntimeError>(() => UserResolver.Resolve(spec, passwd, group))!.Message;

    [TestCase(null), TestCase("")]
    public void EmptyMeansRoot(string? spec)
    {
        var u = UserResolver.Resolve(spec, Passwd, Group);
        Assert.That((u.Uid, u.Gid, u.Home), Is.EqualTo((0u, 0u, "/root")));
        Assert.That(u.AdditionalGids, Is.Empty);
    }

    [Test]
    public void NoPasswdFileStillAllowsNumericIds()
    {
        var u = UserResolver.Resolve("1234:5678", null, null);
        Assert.That((u.Uid, u.Gid, u.Home), Is.EqualTo((1234u, 5678u, "/")));
        var root = UserResolver.Resolve(null, null, null);
        Assert.That((root.Uid, root.Gid, root.Home), Is.EqualTo((0u, 0u, "/")));
    }

    [Test]
    public void NamesNeedTheFiles()
    {
        Assert.That(Error("alice", null, Group), Is.EqualTo("unable to find user alice: no passwd file in the image"));
        Assert.That(Error("alice:staff", Passwd, null), Is.EqualTo("unable to find group staff: no group file in the image"));
        Assert.That(Error("alice:staff", Passwd, Group), Is.EqualTo("unable to find group staff: no matching entries in group file"));
        Assert.That(Error("nosuch", Passwd, Group), Is.EqualTo("unable to find user nosuch: no matching entries in passwd file"));
    }

    [Test]
    public void EmptyHomeFieldMeansSlash() =>
        Assert.That(UserResolver.Resolve("nohome", Passwd, Group).Home, Is.EqualTo("/"));

    [Test]
    public void UnknownNumericUidHasNoSupplementaryGroups()
    {
        var u = UserResolver.Resolve("4242", Passwd, Group);
        Assert.That((u.Uid, u.Gid, u.Home, u.AdditionalGids.Length), Is.EqualTo((4242u, 0u, "/", 0)));
    }

    [Test]
    public void ExplicitGroupDropsSupplementaryGroups()
    {
        Assert.That(UserResolver.Resolve("alice", Passwd, Group).AdditionalGids, Is.EqualTo(new uint[] { 10, 29 }));
        Assert.That(UserResolver.Resolve("alice:wheel", Passwd, Group).AdditionalGids, Is.Empty);
        Assert.That(UserResolver.Resolve("alice:wheel", Passwd, Group).Gid, Is.EqualTo(10u));
    }

    [Test]
    public void WindowsLineEndingsAndBlankLinesAreTolerated()
    {
        var passwd = Encoding.UTF8.GetBytes("\r\nweb:x:33:33:www:/var/www:/bin/false\r\n\r\n");
        var group = Encoding.UTF8.GetBytes("www-data:x:33:\r\nlog:x:4:web\r\n");
        var u = UserResolver.Resolve("web", passwd, group);
        Assert.That((u.Uid, u.Gid, u.Home), Is.EqualTo((33u, 33u, "/var/www")));
        Assert.That(u.AdditionalGids, Is.EqualTo(new uint[] { 4 }));
    }

    [Test]
    public void ShortOrMalformedLinesAreSkipped()
    {
        var passwd = Encoding.UTF8.GetBytes("broken:x:1\nweird:x:notanumber:0:::/bin/sh\nok:x:7:8::/home/ok:/bin/sh\n");
        Assert.That(UserResolver.Resolve("ok", passwd, null).Uid, Is.EqualTo(7u));
        Assert.That(Error("broken", passwd, null), Is.EqualTo("unable to find user broken: no matching entries in passwd file"));
        Assert.That(Error("weird", passwd, null), Is.EqualTo("unable to find user weird: no matching entries in passwd file"));
    }
}
