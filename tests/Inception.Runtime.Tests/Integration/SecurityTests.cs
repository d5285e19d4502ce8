using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>Capabilities and no_new_privs as the kernel reports them in /proc/self/status.</summary>
public sealed class SecurityTests : ContainerTest
{
    const string DockerDefault = "00000000a80425fb";

    static Dictionary<string, string> Status(params string[] runArgs)
    {
        var r = Run(["run", "--rm", .. runArgs, "busybox", "cat", "/proc/self/status"]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim());
    }

    /// <summary>Everything the test runner (and so incrun) holds: "all" for --privileged.</summary>
    static string FullMask() => File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapBnd:"))[7..].Trim();

    [Test]
    public void RootGetsDockersDefaultSet()
    {
        var s = Status();
        Assert.That((s["CapBnd"], s["CapEff"], s["CapPrm"]), Is.EqualTo((DockerDefault, DockerDefault, DockerDefault)));
        Assert.That((s["CapInh"], s["CapAmb"]), Is.EqualTo(("0000000000000000", "0000000000000000")));
        Assert.That(s["NoNewPrivs"], Is.EqualTo("0"));
    }

    [Test]
    public void NonRootUserHasNoEffectiveCapabilities()
    {
        var s = Status("-u", "nobody");
        Assert.That((s["CapEff"], s["CapPrm"], s["CapBnd"]), Is.EqualTo(("0000000000000000", "0000000000000000", DockerDefault)));
    }

    [Test]
    public void CapDropAll()
    {
        var s = Status("--cap-drop", "ALL");
        Assert.That((s["CapEff"], s["CapBnd"]), Is.EqualTo(("0000000000000000", "0000000000000000")));
    }

    [Test]
    public void CapAddAndDrop()
    {
        var s = Status("--cap-add", "SYS_ADMIN", "--cap-drop", "net_raw");
        var expected = (Convert.ToUInt64(DockerDefault, 16) | (1UL << 21)) & ~(1UL << 13);
        Assert.That(s["CapEff"], Is.EqualTo(expected.ToString("x16")));
    }

    [Test]
    public void PrivilegedHasEveryCapabilityAndNoMasks()
    {
        var s = Status("--privileged");
        Assert.That((s["CapEff"], s["CapBnd"]), Is.EqualTo((FullMask(), FullMask())));
        var r = Run("run", "--rm", "--privileged", "busybox", "sh", "-c", "grep -c /proc/sys /proc/self/mountinfo; wc -c < /proc/timer_list");
        Assert.That(r.Stdout.Split('\n')[0], Is.EqualTo("0"), "no read-only /proc/sys bind with --privileged");
        Assert.That(int.Parse(r.Stdout.Split('\n')[1].Trim()), Is.GreaterThan(0), "/proc/timer_list is not masked");
    }

    [Test]
    public void MountNeedsCapSysAdmin()
    {
        var denied = Run("run", "--rm", "busybox", "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt");
        Assert.That(denied.ExitCode, Is.Not.EqualTo(0));
        Assert.That(denied.Stderr, Does.Contain("Operation not permitted").Or.Contain("permission denied"));
        var allowed = Run("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted");
        Assert.That(allowed.Stdout, Is.EqualTo("mounted\n"), allowed.ToString());
    }

    [Test]
    public void NoNewPrivileges()
    {
        Assert.That(Status("--security-opt", "no-new-privileges")["NoNewPrivs"], Is.EqualTo("1"));
        Assert.That(Status("--security-opt", "no-new-privileges:true")["NoNewPrivs"], Is.EqualTo("1"));
    }

    [Test]
    public void UlimitsApply()
    {
        var r = Run("run", "--rm", "--ulimit", "nofile=1024:2048", "--ulimit", "core=0", "busybox", "cat", "/proc/self/limits");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"Max open files\s+1024\s+2048\s+files"));
        Assert.That(r.Stdout, Does.Match(@"Max core file size\s+0\s+0\s+bytes"));
    }

    [Test]
    public void UlimitAboveTheHardLimitIsRefused()
    {
        var r = Run("run", "--rm", "--ulimit", "nofile=99999999:99999999", "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125), r.ToString());
        Assert.That(r.Stderr.Trim(), Does.StartWith("incrun: prlimit(RLIMIT_NOFILE=99999999:99999999): "));
    }

    [Test]
    public void NamespacedSysctlsApplyInsideOnly()
    {
        var hostShm = File.ReadAllText("/proc/sys/kernel/shmmax");
        var hostForward = File.ReadAllText("/proc/sys/net/ipv4/ip_forward");
        var r = Run("run", "--rm", "--sysctl", "kernel.shmmax=123456789", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "sh", "-c",
            "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward");
        Assert.That(r.Stdout, Is.EqualTo("123456789\n1\n"), r.ToString());
        Assert.That(File.ReadAllText("/proc/sys/kernel/shmmax"), Is.EqualTo(hostShm));
        Assert.That(File.ReadAllText("/proc/sys/net/ipv4/ip_forward"), Is.EqualTo(hostForward));
    }

    [Test]
    public void TmpfsMountIsWritableOnAReadOnlyRoot()
    {
        var r = Run("run", "--rm", "--read-only", "--tmpfs", "/scratch", "--tmpfs", "/run:rw,size=1m", "busybox", "sh", "-c",
            "touch /scratch/x && echo ok; grep -E ' /(scratch|run) ' /proc/self/mountinfo | wc -l; df -k /run | tail -1");
        Assert.That(r.Stdout, Does.StartWith("ok\n2\n"), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"tmpfs\s+1024\s"));
    }

    [Test]
    public void OomScoreAdj()
    {
        var r = Run("run", "--rm", "--oom-score-adj", "500", "busybox", "cat", "/proc/self/oom_score_adj");
        Assert.That(r.Stdout.Trim(), Is.EqualTo("500"), r.ToString());
    }

    const string Latency = "/dev/cpu_dma_latency"; // c 10:259: readable, and not among docker's default devices

    [Test]
    public void DevicesOutsideTheDefaultListAreDenied()
    {
        if (!File.Exists(Latency)) Assert.Ignore($"no {Latency}");
        var r = Run("run", "--rm", "busybox", "sh", "-c", "mknod /dev/lat c 10 259 && echo made; head -c 4 /dev/lat | wc -c");
        Assert.That(r.Stdout, Does.StartWith("made\n0"), r.ToString());
        Assert.That(r.Stderr, Does.Contain("Operation not permitted"));
    }

    [Test]
    public void DeviceFlagCreatesAndAllowsTheDevice()
    {
        if (!File.Exists(Latency)) Assert.Ignore($"no {Latency}");
        var r = Run("run", "--rm", "--device", $"{Latency}:/dev/lat:r", "busybox", "sh", "-c",
            "ls -l /dev/lat; head -c 4 /dev/lat | wc -c; echo 0 > /dev/lat && echo wrote");
        Assert.That(r.Stdout, Does.Match(@"^c.* 10,\s*259 .*/dev/lat\n4\n$"), r.ToString());
        Assert.That(r.Stderr, Does.Contain("Operation not permitted"), "write access was not granted");
    }

    [TestCase("--device", "/etc/passwd", "--device: /etc/passwd is not a device")]
    [TestCase("--device", "/nonexistent", "--device(/nonexistent): No such file or directory")]
    [TestCase("--device", "/dev/null:/dev/x:rwx", "invalid device mode: rwx")]
    [TestCase("--sysctl", "kernel.panic=1", "sysctl \"kernel.panic\" is not allowed in a container")]
    [TestCase("--ulimit", "nofile=10:5", "ulimit soft limit must be less than or equal to hard limit")]
    [TestCase("--ulimit", "bogus=1", "invalid ulimit type: bogus")]
    [TestCase("--tmpfs", "rel", "invalid --tmpfs \"rel\": the path must be absolute")]
    [TestCase("--oom-score-adj", "2000", "range for oom score adj is [-1000, 1000]")]
    [TestCase("--cap-add", "NOSUCH", "unknown capability: \"NOSUCH\"")]
    [TestCase("--cap-drop", "CAP_BOGUS", "unknown capability: \"CAP_BOGUS\"")]
    [TestCase("--security-opt", "bogus", "invalid --security-opt: \"bogus\"")]
    [TestCase("--security-opt", "seccomp=/x.json", "opening seccomp profile (/x.json) failed")]
    public void BadSecurityFlags(string flag, string value, string message)
    {
        var r = Run("run", "--rm", flag, value, "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125), r.ToString());
        Assert.That(r.Stderr.Trim(), Does.StartWith("incrun: ").And.Contain(message));
    }

    [Test]
    public void NetworkSysctlNeedsItsOwnNetwork()
    {
        var r = Run("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125));
        Assert.That(r.Stderr, Does.Contain("is not allowed with --network host"));
    }

    [Test]
    public void DroppedCapabilitiesCannotBeRegained()
    {
        // CAP_SYS_ADMIN is outside the bounding set: no exec, setuid or unshare brings it back.
        var r = Run("run", "--rm", "busybox", "sh", "-c", "unshare -m true; echo unshare=$?; setpriv --inh-caps +sys_admin true; echo inh=$?");
        Assert.That(r.Stdout, Does.Contain("unshare=1").And.Contain("inh=1"), r.ToString());
        var noCaps = Run("run", "--rm", "--cap-drop", "ALL", "busybox", "sh", "-c", "touch /tmp/f && chown 1 /tmp/f; echo chown=$?");
        Assert.That(noCaps.Stdout, Does.Contain("chown=1"), "root without CAP_CHOWN cannot chown: " + noCaps);
    }
}
