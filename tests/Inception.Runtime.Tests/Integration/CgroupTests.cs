using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>Resource limits as the host's cgroup files show them, and as the kernel enforces them: the v1
/// hierarchies on a hybrid or v1 host, the unified hierarchy on a pure cgroup v2 host (the test VM,
/// `./build.sh test-vm`).</summary>
public sealed class CgroupTests : ContainerTest
{
    static readonly Cgroups.CgroupLayout Layout = Cgroups.CgroupLayout.Detect();

    static bool V2 => Layout.UseV2;

    [SetUp]
    public void NeedsAMemoryController()
    {
        if (!V2 && !Layout.V1.ContainsKey("memory")) Assert.Ignore("no memory controller (v1) and no pure cgroup v2");
    }

    static string Read(string dir, string file) => File.ReadAllText(Path.Combine(dir, file)).Trim();

    /// <summary>Starts a container that sleeps; returns the host dir of one of its controllers (v2: its
    /// one directory), as the host sees the container's PID 1 (/proc/PID/cgroup).</summary>
    static (System.Diagnostics.Process P, string Dir) Start(string controller, params string[] flags)
    {
        var (p, _, _) = Incrun.StartUntil("READY", ["run", "--rm", .. flags, "busybox", "sh", "-c", "echo READY; sleep 30"]);
        var init = Incrun.ChildrenOf(p.Id).Single();
        var line = File.ReadAllLines($"/proc/{init}/cgroup")
            .First(l => V2 ? l.StartsWith("0::") : l.Split(':')[1].Split(',').Contains(controller));
        var path = line.Split(':', 3)[2].Trim();
        var dir = (V2 ? Layout.Unified! : Layout.V1[controller]) + path;
        try
        {
            Assert.That(path, Does.Match($"^/{Incrun.CgroupParent}/[0-9a-f]{{64}}$"));
            if (V2) Assert.That(Read(dir, "cgroup.controllers").Split(' '), Does.Contain(controller == "blkio" ? "io" : controller),
                "the controller is enabled for the container's cgroup (cgroup.subtree_control of its parents)");
        }
        catch
        {
            Stop(p, dir);
            throw;
        }
        return (p, dir);
    }

    [Test]
    public void InsideTheContainerItsCgroupIsTheRoot()
    {
        var r = V2
            ? Run("run", "--rm", "--memory", "64m", "busybox", "sh", "-c",
                "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; mkdir /sys/fs/cgroup/x 2>&1 || echo denied")
            : Run("run", "--rm", "--memory", "64m", "busybox", "sh", "-c",
                "grep memory /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; mkdir /sys/fs/cgroup/memory/x 2>&1 || echo denied");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], V2 ? Is.EqualTo("0::/") : Does.EndWith(":memory:/"), "the cgroup namespace is rooted at the container's cgroup");
        Assert.That(lines[1], Is.EqualTo("67108864"));
        Assert.That(r.Stdout, Does.Contain("Read-only file system").Or.Contain("denied"));
        var ns = Run("run", "--rm", "busybox", "readlink", "/proc/self/ns/cgroup").Stdout.Trim();
        Assert.That(ns, Is.Not.EqualTo(new FileInfo("/proc/self/ns/cgroup").LinkTarget));
    }

    static void Stop(System.Diagnostics.Process p, string dir)
    {
        Native.Libc.kill(Incrun.ChildrenOf(p.Id).Single(), 9);
        p.WaitForExit();
        p.Dispose();
        Assert.That(Directory.Exists(dir), Is.False, "the container's cgroup outlived it");
    }

    [Test]
    public void EveryContainerHasItsOwnCgroup()
    {
        var (p, dir) = Start("pids");
        Assert.That(File.ReadAllText(Path.Combine(dir, "cgroup.procs")).Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.GreaterThanOrEqualTo(1));
        Stop(p, dir);
    }

    [Test]
    public void MemoryLimitIsWritten()
    {
        var (p, dir) = Start("memory", "--memory", "64m", "--memory-reservation", "32m");
        Assert.That(Read(dir, V2 ? "memory.max" : "memory.limit_in_bytes"), Is.EqualTo("67108864"));
        Assert.That(Read(dir, V2 ? "memory.low" : "memory.soft_limit_in_bytes"), Is.EqualTo("33554432"));
        Stop(p, dir);
    }

    [Test]
    public void CpuQuotaAndSharesAreWritten()
    {
        var (p, dir) = Start("cpu", "--cpus", "0.5", "--cpu-shares", "512");
        if (V2)
        {
            Assert.That(Read(dir, "cpu.max"), Is.EqualTo("50000 100000"));
            Assert.That(Read(dir, "cpu.weight"), Is.EqualTo("20"), "shares 512 → weight 1 + (512-2)*9999/262142");
        }
        else
        {
            Assert.That(Read(dir, "cpu.cfs_quota_us"), Is.EqualTo("50000"));
            Assert.That(Read(dir, "cpu.cfs_period_us"), Is.EqualTo("100000"));
            Assert.That(Read(dir, "cpu.shares"), Is.EqualTo("512"));
        }
        Stop(p, dir);
    }

    [Test]
    public void OomKillIsReported()
    {
        // tail keeps the last "line" of /dev/zero, which never ends: memory grows at memcpy speed (the
        // docs' `head | tr` hog also works, but takes minutes under the VM's software emulation).
        var r = Run("run", "--rm", "--memory", "32m", "busybox", "sh", "-c", "echo started; exec tail /dev/zero");
        Assert.That(r.ExitCode, Is.EqualTo(137), r.ToString());
        Assert.That(r.Stderr.Trim(), Does.EndWith("incrun: container was OOM-killed (memory limit 32 MiB)"));
        Assert.That(r.Stdout, Is.EqualTo("started\n"));
    }

    [Test]
    public void PidsLimitStopsAForkBomb()
    {
        var (p, dir) = Start("pids", "--pids-limit", "10");
        Assert.That(Read(dir, "pids.max"), Is.EqualTo("10"));
        Stop(p, dir);

        var r = Run("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c", "for i in $(seq 30); do sleep 3 & done; echo all-forked");
        Assert.That(r.Stdout, Does.Not.Contain("all-forked"), r.ToString());
        Assert.That(r.Stderr, Does.Contain("can't fork").Or.Contain("Resource temporarily unavailable"));
    }

    [Test]
    public void CpusetLimitsTheCpus()
    {
        var r = Run("run", "--rm", "--cpuset-cpus", "0", "busybox", "sh", "-c", "nproc; cat /sys/fs/cgroup/cpuset.cpus.effective 2>/dev/null || cat /sys/fs/cgroup/cpuset/cpuset.cpus");
        Assert.That(r.Stdout, Is.EqualTo("1\n0\n"), r.ToString());
    }

    [Test]
    public void TheCgroupV2PathOnTheUnifiedHierarchy()
    {
        // This host keeps its controllers in v1; its unified hierarchy still takes cgroups, so the v2 path
        // (clone3 CLONE_INTO_CGROUP, cgroup namespace, cgroup2 mount) runs for real without limits.
        if (Layout.Unified is null) Assert.Ignore("no cgroup2 mount");
        var psi = Incrun.StartInfo(["run", "--rm", "busybox", "sh", "-c", "grep '^0::' /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; ls /sys/fs/cgroup"]);
        if (!V2) psi.Environment["INCRUN_CGROUP_MODE"] = "v2";
        var r = Incrun.Exec(psi, null, TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.StartWith("0::/\n"), "in its own v2 cgroup, the root of its cgroup namespace");
        Assert.That(r.Stdout, Does.Contain(" /sys/fs/cgroup ro,").And.Contain(" - cgroup2 "));
        Assert.That(r.Stdout, Does.Contain("cgroup.events"), "a non-root cgroup's files");
        Assert.That(Directory.GetDirectories(Layout.Unified).Where(d => d.EndsWith("/" + Incrun.CgroupParent)), Is.Empty);
    }

    [Test]
    public void StatsShowsUsageAndLimits()
    {
        var (p, _, _) = Incrun.StartUntil("READY", "run", "--rm", "--name", "busy1", "--memory", "64m", "--cpus", "0.5", "busybox", "sh", "-c",
            "echo READY; while :; do :; done");
        try
        {
            var table = Run("stats", "--no-stream");
            Assert.That(table.ExitCode, Is.EqualTo(0), table.ToString());
            var lines = table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines[0], Does.StartWith("CONTAINER ID   NAME"));
            Assert.That(lines.Single(l => l.Contains("busy1")), Does.Contain(" / 64MiB"));

            var json = Run("stats", "--no-stream", "--format", "json", "busy1");
            using var doc = System.Text.Json.JsonDocument.Parse(json.Stdout);
            var cpu = double.Parse(doc.RootElement.GetProperty("CPUPerc").GetString()!.TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(cpu, Is.InRange(5.0, 75.0), "a busy loop under --cpus 0.5 uses at most about half a CPU");
            Assert.That(doc.RootElement.GetProperty("PIDs").GetString(), Is.EqualTo("1"));

            var missing = Run("stats", "--no-stream", "nosuch");
            Assert.That(missing.Stderr.Trim(), Is.EqualTo("incrun: No such container: nosuch"));
        }
        finally
        {
            Native.Libc.kill(Incrun.ChildrenOf(p.Id).Single(), 9);
            p.WaitForExit();
            p.Dispose();
        }
    }

    [Test]
    public void BlockIoThrottlesAreWritten()
    {
        var disk = Directory.GetDirectories("/sys/block").Select(Path.GetFileName)
            .FirstOrDefault(n => !n!.StartsWith("loop") && !n.StartsWith("ram") && File.Exists($"/dev/{n}"));
        if (disk is null) Assert.Ignore("no block device");
        var majorMinor = File.ReadAllText($"/sys/block/{disk}/dev").Trim();
        var (p, dir) = Start("blkio", "--device-read-bps", $"/dev/{disk}:1mb", "--device-write-iops", $"/dev/{disk}:100");
        if (V2)
            Assert.That(Read(dir, "io.max"), Is.EqualTo($"{majorMinor} rbps=1048576 wbps=max riops=max wiops=100"));
        else
        {
            Assert.That(Read(dir, "blkio.throttle.read_bps_device"), Is.EqualTo($"{majorMinor} 1048576"));
            Assert.That(Read(dir, "blkio.throttle.write_iops_device"), Is.EqualTo($"{majorMinor} 100"));
        }
        Stop(p, dir);
    }

    [TestCase("--device-read-bps", "/dev/null:1mb", "--device-read-bps: /dev/null is not a block device")]
    [TestCase("--device-write-bps", "/nonexistent:1mb", "--device-write-bps(/nonexistent): No such file or directory")]
    [TestCase("--device-read-iops", "/dev/null", "bad format for --device-read-iops")]
    [TestCase("--blkio-weight", "5", "Range of blkio weight is from 10 to 1000")]
    [TestCase("--memory", "3x", "invalid size for --memory: '3x'")]
    [TestCase("--memory", "-5m", "invalid size for --memory")]
    [TestCase("--memory", "1m", "Minimum memory limit allowed is 6MB")]
    [TestCase("--memory-swap", "64m", "You should always set the Memory limit when using Memoryswap limit")]
    [TestCase("--cpuset-cpus", "7", "Requested CPUs are not available - requested 7")]
    [TestCase("--cpus", "99", "range of CPUs is from 0.01 to")]
    [TestCase("--kernel-memory", "10m", "--kernel-memory is not supported")]
    [TestCase("--cgroup-parent", "../escape", "invalid --cgroup-parent")]
    public void BadLimitsAreRejectedBeforeAnythingIsCreated(string flag, string value, string message)
    {
        var r = Run("run", "--rm", flag, value, "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125), r.ToString());
        Assert.That(r.Stderr.Trim(), Does.StartWith("incrun: ").And.Contain(message));
        Assert.That(Incrun.LeftoverContainers(), Is.Empty);
    }
}
