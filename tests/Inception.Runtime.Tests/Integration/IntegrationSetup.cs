using System.Diagnostics;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>Builds the busybox image into the test run's private state root once, and removes the
/// root at the end after checking that nothing leaked.</summary>
[SetUpFixture]
public sealed class IntegrationSetup
{
    [OneTimeSetUp]
    public void BuildImage()
    {
        if (!Incrun.IsRoot) return;
        Assert.That(File.Exists(Incrun.Binary), Is.True, $"incrun binary not found at {Incrun.Binary} (run ./build.sh or set INCRUN_BIN)");
        var psi = Incrun.StartInfo([Path.Combine(Incrun.RepoRoot, "rootfs", "busybox.sh"), Incrun.Binary], "bash");
        var r = Incrun.Exec(psi, null, TimeSpan.FromMinutes(5));
        Assert.That(r.ExitCode, Is.EqualTo(0), $"rootfs/busybox.sh failed: {r}");
    }

    [OneTimeTearDown]
    public void RemoveStateRoot()
    {
        if (!Directory.Exists(Incrun.StateRoot)) return;
        var mounted = Incrun.HostMounts().Where(m => m.StartsWith(Incrun.StateRoot, StringComparison.Ordinal)).ToList();
        foreach (var m in mounted) Process.Start("umount", ["-l", m])!.WaitForExit();
        Directory.Delete(Incrun.StateRoot, recursive: true);
        Assert.That(mounted, Is.Empty, "mounts leaked onto the host");
    }
}

/// <summary>Base of tests that start real containers: root only; after each test no container
/// directory and no mount under the state root may remain.</summary>
[Category("Root")]
[NonParallelizable]
public abstract class ContainerTest
{
    protected List<string> MountsBefore = [];
    protected List<string> VethsBefore = [];

    [SetUp]
    public void RequireRoot()
    {
        if (!Incrun.IsRoot) Assert.Ignore("integration tests need root");
        MountsBefore = Incrun.HostMounts();
        VethsBefore = Incrun.Links("incv");
    }

    [TearDown]
    public void NothingLeaked()
    {
        if (!Incrun.IsRoot) return;
        var leftovers = Incrun.LeftoverContainers();
        var mountsAfter = Incrun.HostMounts();
        foreach (var d in leftovers)
            try { Directory.Delete(d, true); } catch (IOException) { }
        Assert.That(leftovers, Is.Empty, "container directories left behind");
        var cgroups = Directory.Exists("/sys/fs/cgroup")
            ? Directory.EnumerateDirectories("/sys/fs/cgroup", Incrun.CgroupParent, new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 2 }).ToList()
            : [];
        Assert.That(cgroups, Is.Empty, "incrun cgroups left behind");
        Assert.That(mountsAfter, Is.EquivalentTo(MountsBefore), "the host's mount table changed");
        NoNetworkLeft();
    }

    /// <summary>No veth of incrun's appeared; no network of this run has a bridge, a lease or an nft element left.</summary>
    void NoNetworkLeft()
    {
        Assert.That(Incrun.Links("incv").Except(VethsBefore), Is.Empty, "veths left behind");
        var dir = Path.Combine(Incrun.StateRoot, "networks");
        if (!Directory.Exists(dir)) return;
        var table = Incrun.NftTable();
        foreach (var def in Directory.GetFiles(dir, "*.json"))
        {
            var n = System.Text.Json.JsonDocument.Parse(File.ReadAllText(def)).RootElement;
            var bridge = n.GetProperty("bridge").GetString()!;
            var leases = Path.ChangeExtension(def, ".leases");
            var held = File.Exists(leases) ? File.ReadAllLines(leases).Where(l => !l.StartsWith("last ")).ToList() : [];
            Assert.That(held, Is.Empty, $"address leases left in {leases}");
            Assert.That(Directory.Exists($"/sys/class/net/{bridge}"), Is.False, $"bridge {bridge} left behind");
            Assert.That(table, Does.Not.Contain($"\"{bridge}\""), $"nft elements of {bridge} left in table ip incrun");
            Assert.That(table, Does.Not.Contain(n.GetProperty("subnet").GetString()!), "nft subnet element left in table ip incrun");
        }
    }

    protected static RunResult Run(params string[] args) => Incrun.Run(args);
}
