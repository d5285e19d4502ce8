using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>seccomp as the kernel applies it to real containers: docker's default profile, unconfined,
/// and profiles from JSON files.</summary>
public sealed class SeccompIntegrationTests : ContainerTest
{
    static string StatusField(RunResult r, string field) =>
        r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith(field + ":"))?[(field.Length + 1)..].Trim() ?? $"(no {field} in: {r})";

    static RunResult Status(params string[] runArgs) => Run(["run", "--rm", .. runArgs, "busybox", "cat", "/proc/self/status"]);

    [Test]
    public void DefaultProfileIsInstalledInFilterMode()
    {
        Assert.That(StatusField(Status(), "Seccomp"), Is.EqualTo("2"));
        Assert.That(StatusField(Status(), "Seccomp_filters"), Is.EqualTo("1"));
        Assert.That(StatusField(Status("-u", "nobody"), "Seccomp"), Is.EqualTo("2"), "a non-root user without no_new_privs: installed before the user switch");
        Assert.That(StatusField(Status("--security-opt", "no-new-privileges"), "Seccomp"), Is.EqualTo("2"), "with no_new_privs: installed last");
        Assert.That(StatusField(Status("--cap-add", "SYS_ADMIN"), "Seccomp"), Is.EqualTo("2"));
    }

    [Test]
    public void UnconfinedAndPrivilegedHaveNoFilter()
    {
        Assert.That(StatusField(Status("--security-opt", "seccomp=unconfined"), "Seccomp"), Is.EqualTo("0"));
        Assert.That(StatusField(Status("--security-opt", "seccomp:unconfined"), "Seccomp"), Is.EqualTo("0"));
        Assert.That(StatusField(Status("--privileged"), "Seccomp"), Is.EqualTo("0"));
    }

    [Test]
    public void DefaultProfileDeniesWhatDockerDenies()
    {
        var r = Integration.Probe.Ops([], "keyctl", "unshare-user", "unshare-mount", "mount /tmp", "clone3", "personality", "vsock", "inet");
        Assert.That(r.Stdout, Is.EqualTo(
            "keyctl: Operation not permitted\n" +
            "unshare-user: Operation not permitted\n" +
            "unshare-mount: Operation not permitted\n" +
            "mount: Operation not permitted\n" +
            "clone3: Function not implemented\n" +   // ENOSYS, so the C library falls back to clone
            "personality: Operation not permitted\n" +
            "vsock: Operation not permitted\n" +
            "inet: ok\n"), r.ToString());
        var shell = Run("run", "--rm", "busybox", "sh", "-c", "unshare -U true; mkdir -p /mnt && mount -t tmpfs none /mnt");
        Assert.That(shell.ExitCode, Is.Not.EqualTo(0));
        Assert.That(shell.Stderr, Does.Match("unshare.*Operation not permitted"), shell.ToString());
        Assert.That(shell.Stderr, Does.Contain("mount: permission denied").Or.Contain("Operation not permitted"), shell.ToString());
    }

    [Test]
    public void UnconfinedAllowsThem()
    {
        var r = Integration.Probe.Ops(["--security-opt", "seccomp=unconfined"], "keyctl", "unshare-user", "personality");
        Assert.That(r.Stdout, Is.EqualTo("keyctl: ok\nunshare-user: ok\npersonality: ok\n"), r.ToString());
        var admin = Integration.Probe.Ops(["--security-opt", "seccomp=unconfined", "--cap-add", "SYS_ADMIN"], "unshare-mount", "mount /tmp");
        Assert.That(admin.Stdout, Is.EqualTo("unshare-mount: ok\nmount: ok\n"), admin.ToString());
    }

    [Test]
    public void CapSysAdminUnlocksMountAndUnshareInTheDefaultProfile()
    {
        var r = Integration.Probe.Ops(["--cap-add", "SYS_ADMIN"], "unshare-mount", "mount /tmp", "keyctl");
        Assert.That(r.Stdout, Is.EqualTo("unshare-mount: ok\nmount: ok\nkeyctl: Operation not permitted\n"), r.ToString());
    }

    [Test]
    public void CustomProfileWithErrnoRet()
    {
        var dir = Path.Combine(Incrun.StateRoot, "profiles");
        Directory.CreateDirectory(dir);
        var profile = Path.Combine(dir, "no-mkdir.json");
        File.WriteAllText(profile, """
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [
                { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28 }
              ]
            }
            """);
        var r = Run("run", "--rm", "--security-opt", $"seccomp={profile}", "busybox", "sh", "-c", "mkdir /tmp/x; touch /tmp/y && echo touched; grep Seccomp: /proc/self/status");
        Assert.That(r.Stderr, Does.Contain("can't create directory '/tmp/x': No space left on device"), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"touched\nSeccomp:\s+2\n"), r.ToString());
    }

    [TestCase("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ ", "failed: invalid JSON at line 1, column ")]
    [TestCase("{ \"defaultAction\": \"SCMP_ACT_NOPE\" }", "seccomp: unknown action \"SCMP_ACT_NOPE\"")]
    [TestCase("{ \"syscalls\": [] }", "has no defaultAction")]
    [TestCase("{ \"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [ { \"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [ { \"index\": 9, \"value\": 1, \"op\": \"SCMP_CMP_EQ\" } ] } ] }", "argument index 9")]
    public void BadProfileIsAOneLineErrorAndCreatesNothing(string json, string message)
    {
        var dir = Path.Combine(Incrun.StateRoot, "profiles");
        Directory.CreateDirectory(dir);
        var profile = Path.Combine(dir, "bad.json");
        File.WriteAllText(profile, json);
        var r = Run("run", "--rm", "--security-opt", $"seccomp={profile}", "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125), r.ToString());
        Assert.That(r.Stderr, Does.StartWith("incrun: ").And.Contain(message), r.ToString());
        Assert.That(r.Stderr.TrimEnd('\n'), Does.Not.Contain("\n"), "one line");
        Assert.That(Incrun.LeftoverContainers(), Is.Empty);
    }

    [Test]
    public void MissingProfileFile()
    {
        var r = Run("run", "--rm", "--security-opt", "seccomp=/nonexistent/profile.json", "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125));
        Assert.That(r.Stderr.Trim(), Does.StartWith("incrun: opening seccomp profile (/nonexistent/profile.json) failed: "));
    }

    [Test]
    public void ExplainNarratesTheFilter()
    {
        var r = Run("--explain", "run", "--rm", "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stderr, Does.Contain("seccomp(SECCOMP_SET_MODE_FILTER"), r.ToString());
    }
}
