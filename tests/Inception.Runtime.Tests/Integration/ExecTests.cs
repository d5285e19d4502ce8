using System.Diagnostics;
using System.Text;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>`incrun exec` into a real running (foreground) container: what the kernel shows of the
/// joined process — namespaces, PID numbering, cgroup, capabilities — and docker's behaviour.</summary>
public sealed class ExecTests : ContainerTest
{
    /// <summary>A foreground `incrun run` in the background; disposing kills its PID 1 (SIGKILL from the
    /// host), so incrun removes the container's directory and cgroup as after any exit.</summary>
    sealed class Running : IDisposable
    {
        public required Process Incrun { get; init; }
        public required int Pid1 { get; init; }
        public required string Name { get; init; }
        public required StringBuilder Stdout { get; init; }

        bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            Native.Libc.kill(Pid1, 9);
            if (!Incrun.WaitForExit(15000)) Incrun.Kill(entireProcessTree: true);
            Incrun.WaitForExit();
            Incrun.Dispose();
        }
    }

    static int _counter;

    static Running StartContainer(params string[] runArgs)
    {
        var name = $"exec-it-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        string[] args = runArgs.Length > 0 ? runArgs : ["busybox", "sh", "-c", "echo READY; sleep 60"];
        var (p, stdout, _) = Incrun.StartUntil("READY", ["run", "--rm", "--name", name, .. args]);
        var pid1 = Incrun.ChildrenOf(p.Id).Single();
        return new Running { Incrun = p, Pid1 = pid1, Name = name, Stdout = stdout };
    }

    static readonly string[] Namespaces = ["mnt", "pid", "uts", "ipc", "net", "cgroup"];

    [Test]
    public void JoinsEveryNamespaceOfTheContainersPid1()
    {
        using var c = StartContainer();
        var r = Run("exec", c.Name, "sh", "-c", $"for n in {string.Join(' ', Namespaces)}; do readlink /proc/self/ns/$n; done");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var expected = Namespaces.Select(n => new FileInfo($"/proc/{c.Pid1}/ns/{n}").LinkTarget).ToList();
        Assert.That(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(expected));
        var host = Namespaces.Select(n => new FileInfo($"/proc/self/ns/{n}").LinkTarget).ToList();
        for (int i = 0; i < Namespaces.Length; i++)
            Assert.That(expected[i], Is.Not.EqualTo(host[i]), $"the container's {Namespaces[i]} namespace is the host's");
    }

    [Test]
    public void SeesTheContainersPidNumberingAndFiles()
    {
        using var c = StartContainer();
        var r = Run("exec", c.Name, "sh", "-c", "echo pid=$$; cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; cat /etc/hostname");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var lines = r.Stdout.Split('\n');
        Assert.That(int.Parse(lines[0]["pid=".Length..]), Is.LessThan(20), r.Stdout);
        Assert.That(lines[1], Is.EqualTo(File.ReadAllText($"/proc/{c.Pid1}/cmdline").Replace('\0', ' ')), "PID 1 inside is the container's command");
        Assert.That(lines[2], Is.EqualTo(lines[3]), "the container's hostname (UTS namespace) and /etc/hostname");
    }

    [Test]
    public void RunsInTheContainersCgroupWithItsCapabilities()
    {
        using var c = StartContainer();
        var psi = Incrun.StartInfo(["exec", c.Name, "sh", "-c", "grep Cap /proc/self/status; echo STARTED; sleep 30"]);
        using var exec = Process.Start(psi)!;
        var output = new StringBuilder();
        var started = new ManualResetEventSlim();
        exec.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.Contains("STARTED")) started.Set();
        };
        exec.BeginOutputReadLine();
        try
        {
            Assert.That(started.Wait(TimeSpan.FromSeconds(30)), Is.True, "exec did not start: " + output);
            // The command is a child of `incrun exec` itself (not of an intermediate process).
            var pid = Incrun.ChildrenOf(exec.Id).Single();
            var cgroup = File.ReadAllText($"/proc/{pid}/cgroup");
            Assert.That(cgroup, Is.EqualTo(File.ReadAllText($"/proc/{c.Pid1}/cgroup")));
            Assert.That(cgroup, Does.Contain(Incrun.CgroupParent));
            var caps = File.ReadAllLines($"/proc/{c.Pid1}/status").Where(l => l.StartsWith("Cap")).ToList();
            lock (output)
                Assert.That(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("Cap")), Is.EqualTo(caps));
            Assert.That(File.ReadAllText($"/proc/{pid}/status"), Does.Contain("NoNewPrivs:\t0"));
        }
        finally
        {
            if (!exec.HasExited) exec.Kill();
            exec.WaitForExit();
        }
    }

    [TestCase("exit 3", 3)]
    [TestCase("true", 0)]
    [TestCase("kill -9 $$", 137)]
    public void ExitStatusIsTheCommands(string script, int expected)
    {
        using var c = StartContainer();
        var r = Run("exec", c.Name, "sh", "-c", script);
        Assert.That(r.ExitCode, Is.EqualTo(expected), r.ToString());
    }

    [Test]
    public void MissingAndNotExecutableCommandsAre127And126()
    {
        using var c = StartContainer();
        var missing = Run("exec", c.Name, "nosuch");
        Assert.That(missing.ExitCode, Is.EqualTo(127), missing.ToString());
        Assert.That(missing.Stderr.Trim(), Is.EqualTo("incrun: exec: \"nosuch\": executable file not found in $PATH"));
        var notExecutable = Run("exec", c.Name, "/etc/passwd");
        Assert.That(notExecutable.ExitCode, Is.EqualTo(126), notExecutable.ToString());
        Assert.That(notExecutable.Stderr.Trim(), Is.EqualTo("incrun: exec: \"/etc/passwd\": permission denied"));
    }

    [Test]
    public void UserEnvAndWorkdir()
    {
        using var c = StartContainer("-e", "FROM_RUN=yes", "busybox", "sh", "-c", "echo READY; sleep 60");
        var r = Run("exec", "-u", "nobody", "-e", "A=1", "-w", "/tmp", c.Name,
            "sh", "-c", "id; echo A=$A FROM_RUN=$FROM_RUN HOME=$HOME; pwd; grep CapEff /proc/self/status");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Contain("uid=65534(nobody) gid=65534(nogroup)"));
        Assert.That(r.Stdout, Does.Contain("A=1 FROM_RUN=yes HOME=/home"));
        Assert.That(r.Stdout, Does.Contain("/tmp\n"));
        Assert.That(r.Stdout, Does.Contain("CapEff:\t0000000000000000"), "a non-root user has no effective capabilities");

        var group = Run("exec", "-u", "1234:nogroup", c.Name, "id");
        Assert.That(group.Stdout.Trim(), Is.EqualTo("uid=1234 gid=65534(nogroup)"), group.ToString());

        var unknown = Run("exec", "-u", "nosuchuser", c.Name, "id");
        Assert.That(unknown.ExitCode, Is.Not.EqualTo(0));
        Assert.That(unknown.Stderr.Trim(), Is.EqualTo("incrun: unable to find user nosuchuser: no matching entries in passwd file"));
    }

    [Test]
    public void PrivilegedGetsEveryCapability()
    {
        using var c = StartContainer();
        var r = Run("exec", "--privileged", c.Name, "grep", "CapEff", "/proc/self/status");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        // Every capability incrun itself has (a host may lack some, e.g. CAP_SYS_RESOURCE here).
        var own = File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("CapEff:"));
        Assert.That(r.Stdout.Trim(), Is.EqualTo(own));
    }

    [Test]
    public void StdinPassesThroughWithInteractive()
    {
        using var c = StartContainer();
        var r = Incrun.RunWith("from-stdin\n", TimeSpan.FromSeconds(30), "exec", "-i", c.Name, "sh", "-c", "read x; echo got:$x; echo err >&2");
        Assert.That(r.Stdout, Is.EqualTo("got:from-stdin\n"), r.ToString());
        Assert.That(r.Stderr, Is.EqualTo("err\n"));
        var closed = Incrun.RunWith("ignored\n", TimeSpan.FromSeconds(30), "exec", c.Name, "sh", "-c", "cat; echo done");
        Assert.That(closed.Stdout, Is.EqualTo("done\n"), "without -i stdin is empty: " + closed);
    }

    [Test]
    public void WorksWhenPid1IsAShellWaitingOnStdin()
    {
        using var c = StartContainer("-i", "busybox", "sh", "-c", "echo READY; exec sh");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (File.ReadAllText($"/proc/{c.Pid1}/cmdline") != "sh\0" && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.That(File.ReadAllText($"/proc/{c.Pid1}/cmdline"), Is.EqualTo("sh\0"), "PID 1 is an interactive shell");
        var r = Run("exec", c.Name, "sh", "-c", "cat /proc/1/cmdline; echo; echo ok");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("sh\0\nok\n"));
        // The container's shell still reads its own stdin afterwards.
        c.Incrun.StandardInput.WriteLine("echo STILL-HERE; exit 0");
        c.Incrun.StandardInput.Flush();
        Assert.That(c.Incrun.WaitForExit(15000), Is.True);
        c.Incrun.WaitForExit();
        Assert.That(c.Incrun.ExitCode, Is.EqualTo(0));
        lock (c.Stdout) Assert.That(c.Stdout.ToString(), Does.Contain("STILL-HERE"));
    }

    [Test]
    public void SignalsAreForwardedToTheCommand()
    {
        using var c = StartContainer();
        var (exec, stdout, _) = Incrun.StartUntil("STARTED", "exec", c.Name, "sh", "-c", "trap 'echo GOT-TERM; exit 7' TERM; echo STARTED; while :; do sleep 0.1; done");
        using (exec)
        {
            Native.Libc.kill(exec.Id, 15);
            Assert.That(exec.WaitForExit(15000), Is.True, "SIGTERM did not reach the command");
            exec.WaitForExit();
            Assert.That(exec.ExitCode, Is.EqualTo(7));
            lock (stdout) Assert.That(stdout.ToString(), Does.Contain("GOT-TERM"));
        }
    }

    [Test]
    public void TtyWithItsOwnPty()
    {
        using var c = StartContainer();
        var inner = "[ -t 0 ] && [ -t 1 ] && echo IS-A-TTY; stty size; tty; echo TERM=$TERM; exit 4";
        var script = $"stty rows 31 cols 97; {Incrun.Binary} exec -it {c.Name} sh -c {TtyTests.Q(inner)}";
        var r = Incrun.Exec(TtyTests.Script(script), null, TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.EqualTo(4), r.ToString());
        Assert.That(r.Stdout, Does.Contain("IS-A-TTY"));
        Assert.That(r.Stdout, Does.Contain("31 97"));
        Assert.That(r.Stdout, Does.Match(@"/dev/pts/\d+"));
        Assert.That(r.Stdout, Does.Contain("TERM=xterm"));
    }

    [Test]
    public void TtyOfANonRootUserIsItsOwn()
    {
        using var c = StartContainer();
        var script = $"{Incrun.Binary} exec -t -u nobody {c.Name} sh -c 'ls -l $(tty)'";
        var r = Incrun.Exec(TtyTests.Script(script), null, TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"crw--w----\s+1 nobody"));
    }

    [Test]
    public void InteractiveTtyWithoutATerminalIsRefused()
    {
        using var c = StartContainer();
        var r = Run("exec", "-it", c.Name, "true");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun: the input device is not a TTY"));
    }

    [Test]
    public void DiesWhenTheContainerStops()
    {
        var c = StartContainer();
        Process? exec = null;
        try
        {
            var (p, _, _) = Incrun.StartUntil("STARTED", "exec", c.Name, "sh", "-c", "echo STARTED; sleep 1000");
            exec = p;
            var pid = Incrun.ChildrenOf(exec.Id).Single();
            c.Dispose();
            Assert.That(exec.WaitForExit(15000), Is.True, "exec did not end with the container");
            exec.WaitForExit();
            Assert.That(exec.ExitCode, Is.EqualTo(137));
            Assert.That(Incrun.ProcessExists(pid), Is.False);
        }
        finally
        {
            c.Dispose();
            if (exec is { HasExited: false }) exec.Kill();
            exec?.Dispose();
        }
    }

    [Test]
    public void DiesWithAKilledForegroundExec()
    {
        using var c = StartContainer();
        var (exec, _, _) = Incrun.StartUntil("STARTED", "exec", c.Name, "sh", "-c", "echo STARTED; sleep 1000");
        using (exec)
        {
            var pid = Incrun.ChildrenOf(exec.Id).Single();
            Native.Libc.kill(exec.Id, 9);
            exec.WaitForExit();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Incrun.ProcessExists(pid) && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.That(Incrun.ProcessExists(pid), Is.False, "the command outlived `incrun exec`");
        }
    }

    [Test]
    public void DetachedRunsOnInTheBackground()
    {
        using var c = StartContainer();
        var sw = Stopwatch.StartNew();
        var r = Run("exec", "-d", c.Name, "sh", "-c", "sleep 0.5; echo done > /tmp/detached");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.Empty);
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(0.5)), "exec -d waited for the command");
        var check = Run("exec", c.Name, "sh", "-c", "for i in $(seq 50); do [ -f /tmp/detached ] && break; sleep 0.1; done; cat /tmp/detached");
        Assert.That(check.Stdout, Is.EqualTo("done\n"), check.ToString());
    }

    [Test]
    public void FindsTheContainerByIdAndIdPrefix()
    {
        using var c = StartContainer();
        var id = Path.GetFileName(Incrun.LeftoverContainers().Single());
        Assert.That(Run("exec", id, "true").ExitCode, Is.EqualTo(0));
        Assert.That(Run("exec", id[..5], "true").ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void UnknownContainerIsDockersError()
    {
        var r = Run("exec", "no-such-container", "true");
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun: No such container: no-such-container"));
    }

    [Test]
    public void MissingCommandIsAUsageError()
    {
        var r = Run("exec", "somecontainer");
        Assert.That(r.ExitCode, Is.EqualTo(125), r.ToString());
        Assert.That(r.Stderr, Does.StartWith("incrun: \"exec\" requires at least 2 arguments."));
    }

    [Test]
    public void OptionsEndAtTheContainer()
    {
        using var c = StartContainer();
        var r = Run("exec", c.Name, "sh", "-c", "echo $0 $1", "-it", "--user");
        Assert.That(r.Stdout, Is.EqualTo("-it --user\n"), r.ToString());
    }

    [Test]
    public void ExplainNarratesTheJoin()
    {
        using var c = StartContainer();
        var r = Run("--explain", "exec", c.Name, "true");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stderr, Does.Contain($"pidfd_open({c.Pid1}, 0) = ok"));
        Assert.That(r.Stderr, Does.Contain("[incrun] setns(pidfd, CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET"));
        Assert.That(r.Stderr, Does.Contain("[incrun] clone(CLONE_PARENT|SIGCHLD) = ok"));
        Assert.That(r.Stderr, Does.Contain("[exec] execve(").And.Contain("[\"true\"]) = ok"));
    }

    [Test]
    public void AFailedJoinNamesTheStepTheTargetAndTheErrno()
    {
        using var c = StartContainer();
        // The container's spec now claims a user namespace that PID 1 does not have: setns(CLONE_NEWUSER)
        // into one's own user namespace is EINVAL, reported by the C part through the sync socket.
        var config = Path.Combine(Incrun.LeftoverContainers().Single(), "config.json");
        var spec = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config))!;
        spec["linux"]!["namespaces"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject { ["type"] = "user" });
        File.WriteAllText(config, spec.ToJsonString());
        var r = Run("exec", c.Name, "true");
        Assert.That(r.ExitCode, Is.EqualTo(125), r.ToString());
        Assert.That(r.Stderr.Trim(), Does.Match(
            $@"^incrun: exec: setns\(pid {c.Pid1}, CLONE_NEWPID\|CLONE_NEWNS\|CLONE_NEWUTS\|CLONE_NEWIPC\|CLONE_NEWNET(\|CLONE_NEWCGROUP)?\|CLONE_NEWUSER\): Invalid argument$"));
    }

    [Test]
    public void IntoADetachedContainerAndNotIntoAStoppedOne()
    {
        var name = $"exec-it-d-{Environment.ProcessId}";
        var started = Run("run", "-d", "--name", name, "busybox", "sh", "-c", "echo hi > /tmp/from-pid1; exec sleep 100");
        Assert.That(started.ExitCode, Is.EqualTo(0), started.ToString());
        var id = started.Stdout.Trim();
        try
        {
            var r = Run("exec", name, "sh", "-c", "for i in $(seq 50); do [ -f /tmp/from-pid1 ] && break; sleep 0.1; done; cat /tmp/from-pid1; echo pid=$$; cat /proc/1/cmdline");
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Stdout, Does.StartWith("hi\npid="));
            Assert.That(r.Stdout, Does.EndWith("sleep\0" + "100\0"));
            Assert.That(Run("exec", name, "sh", "-c", "exit 5").ExitCode, Is.EqualTo(5));

            Assert.That(Run("stop", "-t", "1", name).ExitCode, Is.EqualTo(0));
            var stopped = Run("exec", name, "true");
            Assert.That(stopped.ExitCode, Is.EqualTo(1), stopped.ToString());
            Assert.That(stopped.Stderr.Trim(), Is.EqualTo($"incrun: container {id} is not running"));
        }
        finally
        {
            Run("rm", "-f", id);
        }
    }
}
