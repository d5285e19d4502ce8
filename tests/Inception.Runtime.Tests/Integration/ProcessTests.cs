using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

public sealed class ProcessTests : ContainerTest
{
    [TestCase("true", 0)]
    [TestCase("exit 7", 7)]
    [TestCase("kill -9 $$; exit 4", 4)]              // PID 1 cannot be killed from inside its namespace
    [TestCase("kill -TERM $$; sleep 1; exit 3", 3)] // and ignores signals it has no handler for
    public void ExitStatusIsTheContainers(string script, int expected)
    {
        var r = Run("run", "--rm", "busybox", "sh", "-c", script);
        Assert.That(r.ExitCode, Is.EqualTo(expected), r.ToString());
    }

    [Test]
    public void KilledBySignalIs128PlusN()
    {
        var (p, _, _) = Incrun.StartUntil("READY", "run", "--rm", "busybox", "sh", "-c", "echo READY; sleep 1000");
        using (p)
        {
            var init = Incrun.ChildrenOf(p.Id).Single();
            Assert.That(Native.Libc.kill(init, 9), Is.EqualTo(0));
            Assert.That(p.WaitForExit(15000), Is.True);
            p.WaitForExit();
            Assert.That(p.ExitCode, Is.EqualTo(137));
        }
    }

    [Test]
    public void CommandNotFoundIs127()
    {
        var r = Run("run", "--rm", "busybox", "nosuch");
        Assert.That(r.ExitCode, Is.EqualTo(127));
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun: exec: \"nosuch\": executable file not found in $PATH"));
    }

    [Test]
    public void MissingPathIs127()
    {
        var r = Run("run", "--rm", "busybox", "/no/such/file");
        Assert.That(r.ExitCode, Is.EqualTo(127), r.ToString());
        Assert.That(r.Stderr, Does.Contain("no such file or directory"));
    }

    [Test]
    public void NotExecutableIs126()
    {
        var r = Run("run", "--rm", "busybox", "/etc/passwd");
        Assert.That(r.ExitCode, Is.EqualTo(126), r.ToString());
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun: exec: \"/etc/passwd\": permission denied"));
    }

    [Test]
    public void StdoutStderrAndStdinPassThrough()
    {
        var r = Incrun.RunWith("from-stdin\n", TimeSpan.FromSeconds(30), "run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo out:$x; echo err >&2");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("out:from-stdin\n"));
        Assert.That(r.Stderr, Is.EqualTo("err\n"));
    }

    [Test]
    public void WithoutInteractiveStdinIsEmpty()
    {
        var r = Incrun.RunWith("ignored\n", TimeSpan.FromSeconds(30), "run", "--rm", "busybox", "sh", "-c", "cat; echo done");
        Assert.That(r.Stdout, Is.EqualTo("done\n"), r.ToString());
    }

    [Test]
    public void OnlyStdioIsInherited()
    {
        var r = Run("run", "--rm", "busybox", "ls", "/proc/self/fd");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        // 0 1 2 and the fd ls uses to read the directory
        Assert.That(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EquivalentTo(new[] { "0", "1", "2", "3" }));
    }

    [TestCase(15, "TERM")]
    [TestCase(2, "INT")]
    [TestCase(10, "USR1")]
    public void SignalsAreForwardedToPid1(int signal, string name)
    {
        var (p, stdout, _) = Incrun.StartUntil("READY", "run", "--rm", "busybox", "sh", "-c",
            $"trap 'echo GOT-{name}; exit 5' {name}; echo READY; while :; do sleep 0.1; done");
        using (p)
        {
            Assert.That(Native.Libc.kill(p.Id, signal), Is.EqualTo(0));
            Assert.That(p.WaitForExit(15000), Is.True, "container did not stop");
            p.WaitForExit();
            Assert.That(p.ExitCode, Is.EqualTo(5));
            Assert.That(stdout.ToString(), Does.Contain($"GOT-{name}"));
        }
    }

    [Test]
    public void KillingIncrunKillsTheContainerAndTheNextRunReapsItsDirectory()
    {
        var (p, _, _) = Incrun.StartUntil("READY", "run", "--rm", "busybox", "sh", "-c", "echo READY; sleep 1000");
        int init;
        using (p)
        {
            var children = Incrun.ChildrenOf(p.Id);
            Assert.That(children, Has.Count.EqualTo(1));
            init = children[0];
            Assert.That(Incrun.LeftoverContainers(), Has.Length.EqualTo(1));
            p.Kill();                      // SIGKILL: no cleanup code in incrun runs
            p.WaitForExit();
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Incrun.ProcessExists(init) && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.That(Incrun.ProcessExists(init), Is.False, "the container outlived incrun");
        Assert.That(Incrun.HostMounts(), Is.EquivalentTo(MountsBefore));

        Assert.That(Incrun.LeftoverContainers(), Has.Length.EqualTo(1), "the crashed run's directory is still there");
        var next = Run("run", "--rm", "busybox", "true");
        Assert.That(next.ExitCode, Is.EqualTo(0), next.ToString());
        Assert.That(Incrun.LeftoverContainers(), Is.Empty, "the next run did not reap the stale directory");
    }

    [Test]
    public void ParallelRunsDoNotDisturbEachOther()
    {
        var runs = Enumerable.Range(0, 12).Select(i => Task.Run(() =>
            Run("run", "--rm", "--memory", "32m", "--hostname", $"box{i}", "busybox", "sh", "-c", "hostname; cat /sys/fs/cgroup/memory/memory.limit_in_bytes"))).ToArray();
        Task.WaitAll(runs);
        for (int i = 0; i < runs.Length; i++)
        {
            var r = runs[i].Result;
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Stdout, Is.EqualTo($"box{i}\n33554432\n"), r.ToString());
        }
    }
}
