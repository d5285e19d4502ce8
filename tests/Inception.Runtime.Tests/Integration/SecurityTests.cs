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

    [TestCase("--cap-add", "NOSUCH", "unknown capability: \"NOSUCH\"")]
    [TestCase("--cap-drop", "CAP_BOGUS", "unknown capability: \"CAP_BOGUS\"")]
    [TestCase("--security-opt", "bogus", "invalid --security-opt: \"bogus\"")]
    [TestCase("--security-opt", "seccomp=/x.json", "not supported yet")]
    public void BadSecurityFlags(string flag, string value, string message)
    {
        var r = Run("run", "--rm", flag, value, "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125), r.ToString());
        Assert.That(r.Stderr.Trim(), Does.StartWith("incrun: ").And.Contain(message));
    }
}
