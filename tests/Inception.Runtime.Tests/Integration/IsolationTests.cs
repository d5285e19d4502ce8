using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

public sealed class IsolationTests : ContainerTest
{
    [Test]
    public void CommandIsPid1()
    {
        var r = Run("run", "--rm", "busybox", "sh", "-c", "echo $$");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout.Trim(), Is.EqualTo("1"));
    }

    [Test]
    public void ProcShowsOnlyTheContainersProcesses()
    {
        var r = Run("run", "--rm", "busybox", "sh", "-c", "ls -d /proc/[0-9]*");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var pids = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p["/proc/".Length..])).ToList();
        Assert.That(pids, Does.Contain(1));
        Assert.That(pids.Count, Is.LessThanOrEqualTo(3), r.Stdout);
        Assert.That(pids.Max(), Is.LessThan(10), "host pids are visible");
    }

    [Test]
    public void HostnameIsIsolated()
    {
        var host = File.ReadAllText("/proc/sys/kernel/hostname").Trim();
        var r = Run("run", "--rm", "--hostname", "box1", "busybox", "sh", "-c", "hostname; cat /etc/hostname");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("box1\nbox1\n"));
        Assert.That(File.ReadAllText("/proc/sys/kernel/hostname").Trim(), Is.EqualTo(host));

        var d = Run("run", "--rm", "busybox", "hostname");
        Assert.That(d.Stdout.Trim(), Does.Match("^[0-9a-f]{12}$"), "default hostname is the short container id");
    }

    [Test]
    public void OnlyLoopbackInTheNetworkNamespaceAndItIsUp()
    {
        var r = Run("run", "--rm", "--network", "none", "busybox", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();
        Assert.That(lines[0], Is.EqualTo("lo"));
        Assert.That(lines.Count, Is.EqualTo(3), "only lo: " + r.Stdout);
        Assert.That(Convert.ToInt32(lines[2], 16) & 1, Is.EqualTo(1), "lo is IFF_UP");
    }

    [Test]
    public void HostNetworkSharesTheHostsInterfaces()
    {
        var hostIfaces = File.ReadAllLines("/proc/net/dev").Length;
        var r = Run("run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, Is.EqualTo(hostIfaces));
    }

    [Test]
    public void EveryNamespaceDiffersFromTheHosts()
    {
        string[] kinds = ["ipc", "uts", "net", "mnt", "pid"];
        var r = Run("run", "--rm", "busybox", "sh", "-c", string.Join("; ", kinds.Select(k => $"readlink /proc/self/ns/{k}")));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var inside = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < kinds.Length; i++)
        {
            var host = new FileInfo($"/proc/self/ns/{kinds[i]}").LinkTarget;
            Assert.That(inside[i], Does.StartWith(kinds[i] + ":["));
            Assert.That(inside[i], Is.Not.EqualTo(host), $"{kinds[i]} namespace is the host's");
        }
    }

    [Test]
    public void RootIsAnOverlayAndTheHostRootIsGone()
    {
        var r = Run("run", "--rm", "busybox", "sh", "-c", "grep ' / ' /proc/self/mountinfo; test -e /opt; echo opt=$?; test -e /usr/lib/x86_64-linux-gnu; echo lib=$?; cut -d' ' -f5 /proc/self/mountinfo");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Contain(" - overlay overlay "));
        Assert.That(r.Stdout, Does.Contain("opt=1").And.Contain("lib=1"), "the host's files are visible");
        var mountPoints = r.Stdout.Split('\n').Where(l => l.StartsWith('/')).ToList();
        Assert.That(mountPoints, Does.Contain("/"));
        Assert.That(mountPoints.Where(m => m.StartsWith("/tmp") || m.StartsWith("/var") || m.StartsWith("/work")), Is.Empty,
            "a host mount is still attached: " + string.Join(' ', mountPoints));
    }

    [Test]
    public void MaskedPathsAreEmpty()
    {
        var r = Run("run", "--rm", "busybox", "sh", "-c", "wc -c < /proc/timer_list; wc -c < /proc/keys; ls -A /sys/firmware | wc -l");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()), Is.EqualTo(new[] { "0", "0", "0" }));
        Assert.That(new FileInfo("/proc/timer_list").Exists, Is.True);
    }

    [Test]
    public void ReadonlyPathsCannotBeWritten()
    {
        var r = Run("run", "--rm", "busybox", "sh", "-c",
            "echo 1 > /proc/sys/kernel/domainname; echo a=$?; echo h > /proc/sysrq-trigger; echo b=$?; touch /sys/x; echo c=$?");
        Assert.That(r.Stdout, Does.Contain("a=1").And.Contain("b=1").And.Contain("c=1"), r.ToString());
        Assert.That(r.Stderr, Does.Contain("Read-only file system"));
    }

    [Test]
    public void DevHasOnlyTheDefaultDevices()
    {
        var r = Run("run", "--rm", "busybox", "sh", "-c", "ls /dev | sort | tr '\\n' ' '; echo; head -c 4 /dev/zero | wc -c; echo hi > /dev/null && echo ok");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var names = r.Stdout.Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(names, Is.EquivalentTo(new[] { "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero" }));
        Assert.That(r.Stdout, Does.Contain("4\nok"));
    }

    [Test]
    public void HostMountTableIsUnchangedWhileAndAfterAContainerRuns()
    {
        var (p, _, _) = Incrun.StartUntil("READY", "run", "--rm", "busybox", "sh", "-c", "echo READY; sleep 2");
        try
        {
            Assert.That(Incrun.HostMounts(), Is.EquivalentTo(MountsBefore), "the container's mounts are visible on the host");
        }
        finally
        {
            p.WaitForExit(10000);
            p.Dispose();
        }
    }
}
