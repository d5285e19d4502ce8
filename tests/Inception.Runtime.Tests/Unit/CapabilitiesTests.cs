using Inception.Runtime.Errors;
using Inception.Runtime.Security;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

public class CapabilitiesTests
{
    [Test]
    public void DefaultMaskIsDockers() =>
        Assert.That(Capabilities.Mask(Capabilities.DockerDefault), Is.EqualTo(0xa80425fbUL));

    [TestCase("sys_admin", "CAP_SYS_ADMIN")]
    [TestCase("CAP_NET_RAW", "CAP_NET_RAW")]
    [TestCase(" Chown ", "CAP_CHOWN")]
    public void NamesAreNormalized(string name, string expected) => Assert.That(Capabilities.Normalize(name), Is.EqualTo(expected));

    [Test]
    public void UnknownNameIsAnError() =>
        Assert.That(() => Capabilities.Normalize("FLY"), Throws.TypeOf<RuntimeError>().With.Message.EqualTo("unknown capability: \"FLY\""));

    [Test]
    public void AddAndDropFollowDocker()
    {
        Assert.That(Capabilities.Resolve([], [], false), Is.EquivalentTo(Capabilities.DockerDefault));
        Assert.That(Capabilities.Resolve(["SYS_ADMIN"], ["NET_RAW"], false),
            Is.EquivalentTo(Capabilities.DockerDefault.Where(c => c != "CAP_NET_RAW").Append("CAP_SYS_ADMIN")));
        Assert.That(Capabilities.Resolve(["CHOWN"], ["ALL"], false), Is.EqualTo(new[] { "CAP_CHOWN" }));
        Assert.That(Capabilities.Resolve(["ALL"], ["MKNOD"], false), Does.Not.Contain("CAP_MKNOD").And.Contain("CAP_SYS_ADMIN"));
        Assert.That(Capabilities.Resolve([], [], true), Is.EquivalentTo(Capabilities.All));
    }
}
