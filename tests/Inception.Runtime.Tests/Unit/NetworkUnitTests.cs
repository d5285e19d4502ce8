using Inception.Runtime.Errors;
using Inception.Runtime.Network;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>-p syntax, subnets, resolv.conf filtering, network request checks: no root needed.</summary>
public class NetworkUnitTests
{
    [TestCase("80", "", 0, 80, "tcp")]
    [TestCase("8080:80", "", 8080, 80, "tcp")]
    [TestCase("127.0.0.1:8443:443/tcp", "127.0.0.1", 8443, 443, "tcp")]
    [TestCase("127.0.0.1::53/udp", "127.0.0.1", 0, 53, "udp")]
    [TestCase("5353:53/UDP", "", 5353, 53, "udp")]
    public void PublishSpecs(string spec, string ip, int host, int container, string proto)
    {
        Assert.That(PortSpec.Parse(spec), Is.EqualTo(new[] { new PublishedPort(ip, host, container, proto) }));
    }

    [Test]
    public void PortRanges()
    {
        Assert.That(PortSpec.Parse("8000-8001:80-81").Select(p => (p.HostPort, p.ContainerPort)), Is.EqualTo(new[] { (8000, 80), (8001, 81) }));
        Assert.That(PortSpec.Exposed(["80/tcp", "53/udp"]).Select(p => p.ToString()), Is.EqualTo(new[] { "80/tcp -> 0.0.0.0:0", "53/udp -> 0.0.0.0:0" }));
    }

    [TestCase("abc", "invalid port \"abc\"")]
    [TestCase("0", "invalid port \"0\"")]
    [TestCase("70000:80", "invalid port \"70000\"")]
    [TestCase("80/sctp", "unknown protocol \"sctp\"")]
    [TestCase("1.2.3:80:80", "invalid host address \"1.2.3\"")]
    [TestCase("1:2:3:4", "too many colons")]
    [TestCase("8000-8002:80-81", "ranges differ in length")]
    public void BadPublishSpecsAreOneLineErrors(string spec, string why)
    {
        var e = Assert.Throws<RuntimeError>(() => PortSpec.Parse(spec))!;
        Assert.That(e.Message, Does.StartWith($"invalid -p \"{spec}\": ").And.Contain(why));
        Assert.That(e.Message, Does.Not.Contain('\n'));
    }

    [Test]
    public void Subnets()
    {
        var s = Subnet.Parse("10.89.1.0/24");
        Assert.That(s.Gateway.ToString(), Is.EqualTo("10.89.1.1"));
        Assert.That(s.Overlaps(Subnet.Parse("10.89.0.0/16")), Is.True);
        Assert.That(s.Overlaps(Subnet.Parse("10.89.2.0/24")), Is.False);
        Assert.That(Assert.Throws<RuntimeError>(() => Subnet.Parse("10.89.1.1/24"))!.Message, Does.Contain("host bits are set"));
        Assert.That(Assert.Throws<RuntimeError>(() => Subnet.Parse("nonsense"))!.Message, Does.Contain("expected an IPv4 CIDR"));
        Assert.That(Assert.Throws<RuntimeError>(() => Subnet.Parse("10.0.0.0/31"))!.Message, Does.Contain("between 8 and 30"));
    }

    [Test]
    public void ResolvConfDropsLoopbackResolversAndFallsBack()
    {
        Assert.That(EtcFiles.ResolvConf("search lan\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions edns0\n"),
            Is.EqualTo("search lan\nnameserver 192.0.2.53\noptions edns0\n"));
        Assert.That(EtcFiles.ResolvConf("nameserver 127.0.0.53\nnameserver ::1\n"), Is.EqualTo("nameserver 8.8.8.8\nnameserver 8.8.4.4\n"));
    }

    [Test]
    public void RequestCombinationsAreChecked()
    {
        Assert.That(Assert.Throws<RuntimeError>(() => new NetworkRequest { Mode = "none", Publish = ["80"] }.Validate())!.Message,
            Is.EqualTo("conflicting options: port publishing and the network mode none"));
        Assert.That(Assert.Throws<RuntimeError>(() => new NetworkRequest { Mode = "bridge", Aliases = ["x"] }.Validate())!.Message,
            Does.Contain("user-defined networks"));
        Assert.That(Assert.Throws<RuntimeError>(() => new NetworkRequest { Mode = "container:" }.Validate())!.Message,
            Does.Contain("container name or id is required"));
        Assert.DoesNotThrow(() => new NetworkRequest { Mode = "appnet", Publish = ["80"], Aliases = ["db"] }.Validate());
    }
}
