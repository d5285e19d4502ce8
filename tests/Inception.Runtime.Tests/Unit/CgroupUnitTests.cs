using Inception.Runtime.Cgroups;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;
using Inception.Runtime.Run;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>Layout detection, flag parsing and the v1/v2 file mapping, against fake cgroup trees.</summary>
public class CgroupUnitTests : TempDirTest
{
    static readonly string[] Hybrid =
    [
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    ];

    [Test]
    public void HybridUsesV1()
    {
        var l = CgroupLayout.Parse(Hybrid);
        Assert.That(l.UseV2, Is.False);
        Assert.That(l.V1["memory"], Is.EqualTo("/sys/fs/cgroup/memory"));
        Assert.That(l.V1.ContainsKey("name=systemd"), Is.False);
        Assert.That(l.Unified, Is.EqualTo("/sys/fs/cgroup/unified"));
    }

    [Test]
    public void PureV2UsesTheUnifiedHierarchy()
    {
        var l = CgroupLayout.Parse(["25 1 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"]);
        Assert.That((l.UseV2, l.Unified), Is.EqualTo((true, "/sys/fs/cgroup")));
    }

    [Test]
    public void CoMountedV1ControllersShareADirectory()
    {
        var l = CgroupLayout.Parse(["33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct"]);
        Assert.That(l.V1["cpu"], Is.EqualTo(l.V1["cpuacct"]));
    }

    [TestCase("64m", 64L << 20)]
    [TestCase("1g", 1L << 30)]
    [TestCase("512k", 512L << 10)]
    [TestCase("100", 100L)]
    [TestCase("1.5g", 3L << 29)]
    [TestCase("64MB", 64L << 20)]
    public void SizesAreDockers(string text, long bytes) => Assert.That(ResourceParser.ParseSize("--memory", text), Is.EqualTo(bytes));

    [Test]
    public void FlagsBecomeOciResources()
    {
        var r = ResourceParser.Parse(new ResourceFlags { Memory = "64m", MemorySwap = "-1", Cpus = "1.5", PidsLimit = 50, CpusetCpus = "0-1" }, 2, () => "0-1")!;
        Assert.That((r.Memory!.Limit, r.Memory.Swap), Is.EqualTo(((long?)(64L << 20), (long?)-1)));
        Assert.That((r.Cpu!.Quota, r.Cpu.Period, r.Cpu.Cpus), Is.EqualTo(((long?)150000, (ulong?)100000, "0-1")));
        Assert.That(r.Pids!.Limit, Is.EqualTo(50));
        Assert.That(ResourceParser.Parse(new ResourceFlags(), 2, () => "0-1"), Is.Null);
    }

    [Test]
    public void ConflictingCpuFlags() =>
        Assert.That(() => ResourceParser.Parse(new ResourceFlags { Cpus = "1", CpuQuota = 5000 }, 2, () => "0-1"),
            Throws.TypeOf<RuntimeError>().With.Message.Contains("Conflicting options"));

    [TestCase(2UL, 1UL)]
    [TestCase(1024UL, 39UL)]
    [TestCase(262144UL, 10000UL)]
    public void SharesMapToWeight(ulong shares, ulong weight) => Assert.That(CgroupFiles.SharesToWeight(shares), Is.EqualTo(weight));

    [Test]
    public void V2Files()
    {
        var r = new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 64L << 20, Swap = 96L << 20, Reservation = 32L << 20 },
            Cpu = new LinuxCpu { Quota = 50000, Period = 100000, Shares = 1024, Cpus = "0" },
            Pids = new LinuxPids { Limit = 20 },
        };
        CgroupFiles.ApplyV2(Dir, r);
        string F(string name) => File.ReadAllText(Path.Combine(Dir, name));
        Assert.That((F("memory.max"), F("memory.swap.max"), F("memory.low")), Is.EqualTo(("67108864", "33554432", "33554432")));
        Assert.That((F("cpu.max"), F("cpu.weight"), F("cpuset.cpus"), F("pids.max")), Is.EqualTo(("50000 100000", "39", "0", "20")));
    }

    [Test]
    public void V2ContainerCgroupEnablesControllersAndWritesLimits()
    {
        var root = MakeDir("cg");
        File.WriteAllText(Path.Combine(root, "cgroup.controllers"), "cpuset cpu io memory pids");
        var layout = new CgroupLayout(root, new Dictionary<string, string>());
        // A real cgroupfs creates the files of a new group; the fake one gets them from this hook.
        Directory.CreateDirectory(Path.Combine(root, "incrun"));
        // as the kernel writes it: with a newline after the last controller
        File.WriteAllText(Path.Combine(root, "incrun", "cgroup.controllers"), "cpu memory pids\n");
        var cg = new ContainerCgroup(layout, "/incrun/abc");
        cg.Create(new LinuxResources { Pids = new LinuxPids { Limit = 5 } });
        Assert.That(File.ReadAllText(Path.Combine(root, "incrun", "cgroup.subtree_control")), Is.EqualTo("+cpu +memory +pids"));
        Assert.That(File.ReadAllText(Path.Combine(root, "incrun", "abc", "pids.max")), Is.EqualTo("5"));
    }

    [Test]
    public void V1FilesGoToEachControllersDirectory()
    {
        var roots = new Dictionary<string, string>();
        foreach (var c in new[] { "memory", "cpu", "cpuset", "pids" }) roots[c] = MakeDir(c);
        File.WriteAllText(Path.Combine(roots["cpuset"], "cpuset.cpus"), "0-1");
        File.WriteAllText(Path.Combine(roots["cpuset"], "cpuset.mems"), "0");
        var cg = new ContainerCgroup(new CgroupLayout(null, roots), "/incrun/abc");
        // a fake cgroupfs creates no files in a new group: the swap file must exist for --memory-swap
        Directory.CreateDirectory(Path.Combine(roots["memory"], "incrun", "abc"));
        File.WriteAllText(Path.Combine(roots["memory"], "incrun", "abc", "memory.memsw.limit_in_bytes"), "");
        cg.Create(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 64L << 20, Swap = 128L << 20 },
            Cpu = new LinuxCpu { Quota = 20000, Period = 100000, Shares = 256, Cpus = "1" },
            Pids = new LinuxPids { Limit = -1 },
        });
        string F(string c, string name) => File.ReadAllText(Path.Combine(roots[c], "incrun", "abc", name));
        Assert.That((F("memory", "memory.limit_in_bytes"), F("memory", "memory.memsw.limit_in_bytes")), Is.EqualTo(("67108864", "134217728")));
        Assert.That((F("cpu", "cpu.cfs_quota_us"), F("cpu", "cpu.cfs_period_us"), F("cpu", "cpu.shares")), Is.EqualTo(("20000", "100000", "256")));
        Assert.That((F("cpuset", "cpuset.cpus"), F("pids", "pids.max")), Is.EqualTo(("1", "max")));
    }
}
