using System.Diagnostics;
using Inception.Runtime.Cgroups;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>Device access on cgroup v2, where an eBPF program attached to the container's cgroup stands in
/// for the v1 devices controller. On a pure v2 host (the test VM) this is the normal path; on a hybrid
/// host INCRUN_CGROUP_MODE=v2 puts the container in the controller-less unified hierarchy, where device
/// programs work all the same.</summary>
public sealed class DeviceProgramTests : ContainerTest
{
    static readonly CgroupLayout Layout = CgroupLayout.Detect();

    [SetUp]
    public void NeedsCgroup2()
    {
        if (Layout.Unified is null) Assert.Ignore("no cgroup2 mount");
    }

    static ProcessStartInfo V2(params string[] args)
    {
        var psi = Incrun.StartInfo(args);
        if (!Layout.UseV2) psi.Environment["INCRUN_CGROUP_MODE"] = "v2";
        return psi;
    }

    static RunResult RunV2(params string[] args) => Incrun.Exec(V2(args), null, TimeSpan.FromSeconds(60));

    [Test]
    public void DevicesOutsideTheDefaultListAreDenied()
    {
        var r = RunV2("run", "--rm", "busybox", "sh", "-c",
            "mknod /tmp/mem c 1 1 && echo made-char; mknod /tmp/loop b 7 0 && echo made-block; " +
            "head -c 1 /tmp/mem; echo mem=$?; head -c 1 /tmp/loop; echo loop=$?");
        Assert.That(r.Stdout, Does.Contain("made-char\n").And.Contain("made-block\n"), "mknod is allowed (docker's c *:* m, b *:* m): " + r);
        Assert.That(r.Stdout, Does.Contain("mem=1").And.Contain("loop=1"), r.ToString());
        Assert.That(r.Stderr, Does.Contain("head: /tmp/mem: Operation not permitted").And.Contain("head: /tmp/loop: Operation not permitted"), r.ToString());
    }

    [Test]
    public void DefaultDevicesWork()
    {
        var r = RunV2("run", "--rm", "busybox", "sh", "-c",
            "echo x > /dev/null && head -c 3 /dev/zero | wc -c && head -c 5 /dev/urandom | wc -c && head -c 2 /dev/full | wc -c && " +
            "exec 3<>/dev/ptmx && echo ptmx-ok");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("3\n5\n2\nptmx-ok\n"));
    }

    [Test]
    public void DeviceFlagAllowsExactlyTheGrantedAccess()
    {
        const string latency = "/dev/cpu_dma_latency";  // c 10:259, not among docker's defaults
        if (!File.Exists(latency)) Assert.Ignore($"no {latency}");
        var r = RunV2("run", "--rm", "--device", $"{latency}:/dev/lat:r", "busybox", "sh", "-c",
            "head -c 4 /dev/lat | wc -c; echo 0 > /dev/lat && echo wrote");
        Assert.That(r.Stdout, Is.EqualTo("4\n"), r.ToString());
        Assert.That(r.Stderr, Does.Contain("Operation not permitted"), "write access was not granted");
    }

    [Test]
    public void TheProgramIsAttachedBeforeInitAndFreedWithTheCgroup()
    {
        // StartUntil builds its own StartInfo, which copies this process's environment.
        if (!Layout.UseV2) Environment.SetEnvironmentVariable("INCRUN_CGROUP_MODE", "v2");
        Process p;
        try { (p, _, _) = Incrun.StartUntil("READY", "run", "--rm", "busybox", "sh", "-c", "echo READY; sleep 30"); }
        finally { Environment.SetEnvironmentVariable("INCRUN_CGROUP_MODE", null); }
        try
        {
            var init = Incrun.ChildrenOf(p.Id).Single();
            var rel = File.ReadAllLines($"/proc/{init}/cgroup").Single(l => l.StartsWith("0::")).Substring(3);
            var dir = Layout.Unified + rel;
            var ids = DeviceProgram.Attached(dir);
            Assert.That(ids, Has.Count.EqualTo(1), $"one device program on {dir}");
            Assert.That(DeviceProgram.Exists(ids[0]), Is.True);

            Native.Libc.kill(init, 9);
            p.WaitForExit();
            Assert.That(Directory.Exists(dir), Is.False, "the container's cgroup outlived it");
            var freed = Stopwatch.StartNew();   // the kernel frees a removed cgroup's programs from a work queue
            while (DeviceProgram.Exists(ids[0]) && freed.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
            Assert.That(DeviceProgram.Exists(ids[0]), Is.False, "the device program outlived the cgroup");
        }
        finally
        {
            if (!p.HasExited) { p.Kill(entireProcessTree: true); p.WaitForExit(); }
            p.Dispose();
        }
    }

    [Test]
    public void PrivilegedContainersGetNoProgram()
    {
        if (!File.Exists("/dev/cpu_dma_latency")) Assert.Ignore("no /dev/cpu_dma_latency");
        var (major, minor) = SecurityTests.LatencyNumbers();
        var r = RunV2("run", "--rm", "--privileged", "busybox", "sh", "-c", $"mknod /tmp/lat c {major} {minor}; head -c 4 /tmp/lat | wc -c");
        Assert.That(r.Stdout, Is.EqualTo("4\n"), r.ToString());
    }
}
