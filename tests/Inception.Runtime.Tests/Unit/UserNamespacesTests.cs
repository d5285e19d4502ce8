using Inception.Runtime.Errors;
using Inception.Runtime.Security;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>--userns parsing and the choice of a free block of subordinate ids.</summary>
public sealed class UserNamespacesTests : TempDirTest
{
    string Ids(params string[] lines)
    {
        var f = Path.Combine(Dir, Guid.NewGuid().ToString("N"));
        File.WriteAllLines(f, lines);
        return f;
    }

    [TestCase(null, null)]
    [TestCase("host", null)]
    [TestCase("auto", 65536u)]
    [TestCase("auto:size=1000", 1000u)]
    public void Parse(string? mode, uint? size) => Assert.That(UserNamespaces.Parse(mode), Is.EqualTo(size));

    [TestCase("keep-id")]
    [TestCase("auto:size=x")]
    [TestCase("auto:uidmapping=0:1:2")]
    public void ParseRefuses(string mode) => Assert.Throws<RuntimeError>(() => UserNamespaces.Parse(mode));

    [Test]
    public void TakesTheLowestFreeBlockOfTheOwnersRanges()
    {
        var sub = Ids("someone:100000:65536", "incrun:1000000:200000", "incrun:5000000:65536");
        var taken = new List<UserRange> { new() { HostUid = 1000000, HostGid = 1000000, Size = 65536 } };
        var r = UserNamespaces.Allocate(65536, taken, sub, sub);
        Assert.That((r.HostUid, r.HostGid, r.Size), Is.EqualTo((1065536u, 1065536u, 65536u)));
        taken.Add(r);
        taken.Add(UserNamespaces.Allocate(65536, taken, sub, sub));   // 1131072..1196607: 3392 ids left in the first range
        Assert.That(UserNamespaces.Allocate(65536, taken, sub, sub).HostUid, Is.EqualTo(5000000u), "the next range when the first is full");
        Assert.That(UserNamespaces.Allocate(1000, taken, sub, sub).HostUid, Is.EqualTo(1196608u), "a small block fits the first range's rest");
    }

    [Test]
    public void NoneLeftOrNoRangesIsAOneLineError()
    {
        var sub = Ids("incrun:1000000:65536");
        var taken = new List<UserRange> { new() { HostUid = 1000000, HostGid = 1000000, Size = 10 } };
        var e = Assert.Throws<RuntimeError>(() => UserNamespaces.Allocate(65536, taken, sub, sub))!;
        Assert.That(e.Message, Does.Contain("no free block of 65536 ids"));
        e = Assert.Throws<RuntimeError>(() => UserNamespaces.Allocate(65536, [], Ids("other:1:2"), sub))!;
        Assert.That(e.Message, Does.Contain("no subordinate ids for user \"incrun\""));
    }
}
