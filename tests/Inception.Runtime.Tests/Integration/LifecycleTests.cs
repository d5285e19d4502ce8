using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>Detached containers and their supervisor: ps, logs, stop, kill, rm, start, wait, restart
/// policies, pause, rename, top, and what is left after a supervisor dies.</summary>
public sealed class LifecycleTests : ContainerTest
{
    [TearDown]
    public void RemoveContainers()
    {
        var ids = Run("ps", "-aq", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0) Run(["rm", "-f", .. ids]);
    }

    static string Inspect(string container, string template)
    {
        var r = Run("inspect", "-f", template, container);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return r.Stdout.Trim();
    }

    static string Detach(params string[] args)
    {
        var r = Run(["run", "-d", .. args]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var id = r.Stdout.Trim();
        Assert.That(id, Does.Match("^[0-9a-f]{64}$"));
        return id;
    }

    static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(50);
        }
    }

    [Test]
    public void DetachedContainerRunsUnderItsSupervisorAndStops()
    {
        var id = Detach("--name", "web", "busybox", "sh", "-c", "echo hello; echo oops >&2; exec sleep 100");
        WaitFor(() => Run("logs", "web") is { } l && l.Stdout.Contains("hello") && l.Stderr.Contains("oops"), "the log");
        var ps = Run("ps");
        Assert.That(ps.Stdout, Does.Contain(id[..12]).And.Contain("Up ").And.Contain("web").And.Contain("busybox"));
        Assert.That(ps.Stdout.Split('\n')[0], Does.Match("^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES"));

        var logs = Run("logs", "web");
        Assert.That(logs.Stdout, Is.EqualTo("hello\n"));
        Assert.That(logs.Stderr, Is.EqualTo("oops\n"), "stderr stays stderr");

        int pid = int.Parse(Inspect("web", "{{.State.Pid}}"));
        Assert.That(Inspect("web", "{{.State.Status}} {{.State.Running}} {{.Name}}"), Is.EqualTo("running true /web"));
        Assert.That(File.ReadAllText($"/proc/{pid}/cmdline"), Does.StartWith("sleep"));
        int supervisor = Ppid(pid);
        Assert.That(File.ReadAllText($"/proc/{supervisor}/cmdline"), Does.StartWith("incrun-supervisor\0" + id[..12]));
        Assert.That(File.ReadAllText($"/proc/{supervisor}/stat").Split(' ')[5], Is.EqualTo(supervisor.ToString()), "its own session");

        var sw = Stopwatch.StartNew();
        var stop = Run("stop", "-t", "1", "web");
        Assert.That(stop.ExitCode, Is.EqualTo(0), stop.ToString());
        Assert.That(stop.Stdout.Trim(), Is.EqualTo("web"));
        Assert.That(sw.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(0.9)), "sleep as PID 1 ignores SIGTERM: killed after -t");
        Assert.That(Directory.Exists($"/proc/{pid}") && File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] != "Z", Is.False);
        Assert.That(Inspect("web", "{{.State.Status}} {{.State.ExitCode}}"), Is.EqualTo("exited 137"));
        Assert.That(Run("ps").Stdout, Does.Not.Contain("web"));
        Assert.That(Run("ps", "-a").Stdout, Does.Contain("Exited (137)"));
        Assert.That(Run("rm", "web").ExitCode, Is.EqualTo(0));
        Assert.That(Run("ps", "-a", "-q").Stdout, Is.Empty);
    }

    static int Ppid(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
    }

    [Test]
    public void StopSignalHandledByTheContainerEndsItCleanly()
    {
        Detach("--name", "trap", "busybox", "sh", "-c", "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.1; done");
        WaitFor(() => Run("logs", "trap").Stdout.Contains("up"), "the trap to be set");
        var sw = Stopwatch.StartNew();
        Assert.That(Run("stop", "trap").ExitCode, Is.EqualTo(0));
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        Assert.That(Inspect("trap", "{{.State.ExitCode}}"), Is.EqualTo("0"));
        Assert.That(Run("logs", "trap").Stdout, Does.Contain("bye"));
    }

    [Test]
    public void OnFailureRestartsUpToTheLimit()
    {
        Detach("--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 3");
        var wait = Run("wait", "flaky");
        Assert.That(wait.Stdout.Trim(), Is.EqualTo("3"), wait.ToString());
        Assert.That(Inspect("flaky", "{{.RestartCount}} {{.State.Status}} {{.HostConfig.RestartPolicy.Name}}"), Is.EqualTo("2 exited on-failure"));
        Assert.That(Run("logs", "flaky").Stdout, Is.EqualTo("try\ntry\ntry\n"));
    }

    [Test]
    public void StopWinsOverRestartAlways()
    {
        Detach("--name", "always", "--restart", "always", "busybox", "sleep", "100");
        Assert.That(Run("stop", "-t", "0", "always").ExitCode, Is.EqualTo(0));
        Thread.Sleep(300);
        Assert.That(Inspect("always", "{{.State.Status}} {{.RestartCount}}"), Is.EqualTo("exited 0"));
        Assert.That(Run("start", "always").ExitCode, Is.EqualTo(0));
        Assert.That(Inspect("always", "{{.State.Status}}"), Is.EqualTo("running"));
    }

    [Test]
    public void KillAndWaitReportTheSignal()
    {
        Detach("--name", "victim", "busybox", "sleep", "100");
        Assert.That(Run("kill", "victim").Stdout.Trim(), Is.EqualTo("victim"));
        Assert.That(Run("wait", "victim").Stdout.Trim(), Is.EqualTo("137"));
        var again = Run("kill", "victim");
        Assert.That(again.ExitCode, Is.EqualTo(1));
        Assert.That(again.Stderr, Does.Contain("is not running"));
        Assert.That(Run("kill", "-s", "NOPE", "victim").Stderr.Trim(), Is.EqualTo("incrun: invalid signal: NOPE"));
    }

    [Test]
    public void RmRefusesARunningContainerUnlessForced()
    {
        Detach("--name", "busy", "busybox", "sleep", "100");
        int pid = int.Parse(Inspect("busy", "{{.State.Pid}}"));
        var rm = Run("rm", "busy");
        Assert.That(rm.ExitCode, Is.EqualTo(1));
        Assert.That(rm.Stderr.Trim(), Is.EqualTo("incrun: cannot remove container \"/busy\": container is running: stop the container before removing or force remove"));
        Assert.That(Run("rm", "-f", "busy").ExitCode, Is.EqualTo(0));
        Assert.That(File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("sleep"), Is.False);
        Assert.That(Run("rm", "busy").Stderr.Trim(), Is.EqualTo("incrun: No such container: busy"));
    }

    [Test]
    public void CreateThenStartAndStartAttached()
    {
        var create = Run("create", "--name", "later", "busybox", "echo", "ran");
        Assert.That(create.ExitCode, Is.EqualTo(0), create.ToString());
        Assert.That(Run("ps", "-a").Stdout, Does.Contain("Created"));
        Assert.That(Inspect("later", "{{.State.Status}}"), Is.EqualTo("created"));
        var attached = Run("start", "-a", "later");
        Assert.That(attached.Stdout, Is.EqualTo("ran\n"), attached.ToString());
        Assert.That(Run("start", "later").ExitCode, Is.EqualTo(0));
        Assert.That(Run("wait", "later").Stdout.Trim(), Is.EqualTo("0"));
        Assert.That(Run("logs", "later").Stdout, Is.EqualTo("ran\nran\n"));
    }

    [Test]
    public void NamesAreUniqueAndIdsMatchByPrefix()
    {
        var id = Detach("--name", "one", "busybox", "sleep", "100");
        var clash = Run("run", "-d", "--name", "one", "busybox", "true");
        Assert.That(clash.ExitCode, Is.EqualTo(125));
        Assert.That(clash.Stderr, Does.Contain($"The container name \"/one\" is already in use by container \"{id}\""));
        Assert.That(Inspect(id[..5], "{{.Name}}"), Is.EqualTo("/one"));
        Assert.That(Run("rename", "one", "two").ExitCode, Is.EqualTo(0));
        Assert.That(Inspect("two", "{{.Id}}"), Is.EqualTo(id));
        Assert.That(Run("inspect", "one").ExitCode, Is.EqualTo(1));
        Assert.That(Run("run", "--rm", "--name", "bad name", "busybox", "true").Stderr, Does.Contain("Invalid container name"));
        var generated = Run("run", "-d", "busybox", "sleep", "100").Stdout.Trim();
        Assert.That(Inspect(generated, "{{.Name}}"), Does.Match("^/[a-z]+_[a-z]+[0-9]*$"));
    }

    [Test]
    public void PauseFreezesEveryProcess()
    {
        Detach("--name", "frozen", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.05; done");
        int pid = int.Parse(Inspect("frozen", "{{.State.Pid}}"));
        Assert.That(Run("pause", "frozen").ExitCode, Is.EqualTo(0));
        Assert.That(Run("ps").Stdout, Does.Contain("(Paused)"));
        Assert.That(Inspect("frozen", "{{.State.Status}} {{.State.Paused}}"), Is.EqualTo("paused true"));
        var before = Run("logs", "frozen").Stdout.Length;
        Thread.Sleep(300);
        Assert.That(Run("logs", "frozen").Stdout.Length, Is.EqualTo(before), "no output while frozen");
        Assert.That(File.ReadAllText($"/proc/{pid}/status"), Does.Contain("State:\tS").Or.Contain("State:\tD"));
        Assert.That(Run("unpause", "frozen").ExitCode, Is.EqualTo(0));
        WaitFor(() => Run("logs", "frozen").Stdout.Length > before, "output after unpause");
        Assert.That(Run("unpause", "frozen").ExitCode, Is.EqualTo(1));
    }

    [Test]
    public void TopListsTheContainersProcesses()
    {
        Detach("--name", "tops", "busybox", "sh", "-c", "sleep 100 & exec sleep 200");
        WaitFor(() => Run("top", "tops").Stdout.Contains("sleep 100"), "both processes");
        var top = Run("top", "tops").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(top[0], Does.Match("^UID +PID +PPID +C +STIME +TTY +TIME +CMD$"));
        Assert.That(top.Skip(1).Select(l => l[(l.LastIndexOf("   ", StringComparison.Ordinal) + 3)..]), Is.EquivalentTo(new[] { "sleep 200", "sleep 100" }));
    }

    [Test]
    public void ADeadSupervisorIsNoticedAndCleanedUp()
    {
        var id = Detach("--name", "orphan", "busybox", "sleep", "100");
        int pid = int.Parse(Inspect("orphan", "{{.State.Pid}}"));
        int supervisor = Ppid(pid);
        Process.GetProcessById(supervisor).Kill();
        WaitFor(() => !File.Exists($"/proc/{pid}/stat") || File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] == "Z", "the container to die with its supervisor");
        var ps = Run("ps", "-a");
        Assert.That(ps.Stdout, Does.Contain("Exited (255)"), ps.ToString());
        Assert.That(Inspect("orphan", "{{.State.Error}}"), Does.Contain("supervisor died"));
        var cgroups = Directory.EnumerateDirectories("/sys/fs/cgroup", id, new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 3 });
        Assert.That(cgroups, Is.Empty, "its cgroup was removed");
    }

    [Test]
    public void ForegroundRunKeepsTheContainerAndItsLog()
    {
        var r = Run("run", "--name", "fg", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.That((r.ExitCode, r.Stdout, r.Stderr), Is.EqualTo((3, "out\n", "err\n")));
        Assert.That(Run("ps", "-a").Stdout, Does.Contain("Exited (3)"));
        var logs = Run("logs", "fg");
        Assert.That((logs.Stdout, logs.Stderr), Is.EqualTo(("out\n", "err\n")));
    }

    [Test]
    public void LogsTailTimestampsAndFollow()
    {
        Detach("--name", "talker", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; sleep 0.5; echo last");
        WaitFor(() => Run("logs", "talker").Stdout.Contains("line5"), "the first lines");
        Assert.That(Run("logs", "--tail", "2", "talker").Stdout, Is.EqualTo("line4\nline5\n"));
        var stamped = Run("logs", "-t", "--tail", "1", "talker").Stdout;
        Assert.That(stamped, Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line5\n$"));
        var follow = Run("logs", "-f", "talker");
        Assert.That(follow.Stdout, Is.EqualTo("line1\nline2\nline3\nline4\nline5\nlast\n"), "-f ends when the container exits");
        var raw = File.ReadAllLines(Path.Combine(Incrun.ContainersDir, Inspect("talker", "{{.Id}}"), "container.log"));
        using var doc = JsonDocument.Parse(raw[0]);
        Assert.That(doc.RootElement.GetProperty("log").GetString(), Is.EqualTo("line1\n"));
        Assert.That(doc.RootElement.GetProperty("stream").GetString(), Is.EqualTo("stdout"));
    }

    [Test]
    public void LogsRotateAtMaxSize()
    {
        Detach("--name", "noisy", "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
            "i=0; while [ $i -lt 200 ]; do echo message-$i; i=$((i+1)); done");
        Assert.That(Run("wait", "noisy").Stdout.Trim(), Is.EqualTo("0"));
        var dir = Path.Combine(Incrun.ContainersDir, Inspect("noisy", "{{.Id}}"));
        Assert.That(File.Exists(Path.Combine(dir, "container.log.1")), Is.True);
        Assert.That(File.Exists(Path.Combine(dir, "container.log.2")), Is.False);
        Assert.That(new FileInfo(Path.Combine(dir, "container.log")).Length, Is.LessThanOrEqualTo(2048));
        var lines = Run("logs", "noisy").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[^1], Is.EqualTo("message-199"));
        Assert.That(lines.Length, Is.LessThan(200));
        Assert.That(Run("run", "--rm", "--log-opt", "max-file=2", "busybox", "true").Stderr, Does.Contain("max-file cannot be set without max-size"));
    }

    [Test]
    public void DetachedStartErrorsKeepDockersCodes()
    {
        var r = Run("run", "-d", "--name", "broken", "busybox", "nosuchcmd");
        Assert.That(r.ExitCode, Is.EqualTo(127), r.ToString());
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun: exec: \"nosuchcmd\": executable file not found in $PATH"));
        Assert.That(Inspect("broken", "{{.State.Status}} {{.State.ExitCode}}"), Is.EqualTo("created 127"));
    }

    [Test]
    public void DetachedRmRemovesTheContainerWhenItExits()
    {
        var id = Detach("--rm", "busybox", "sh", "-c", "sleep 0.2");
        WaitFor(() => !Directory.Exists(Path.Combine(Incrun.ContainersDir, id)), "the container to be removed");
        Assert.That(Run("ps", "-a", "-q").Stdout, Is.Empty);
        Assert.That(Run("run", "-d", "--rm", "--restart", "always", "busybox", "true").Stderr.Trim(), Is.EqualTo("incrun: Conflicting options: --restart and --rm"));
    }

    [Test]
    public void DetachedInteractiveKeepsStdinOpenAndTtyIsAPty()
    {
        Detach("-i", "--name", "shell", "busybox", "sh");
        Thread.Sleep(300);
        Assert.That(Inspect("shell", "{{.State.Status}}"), Is.EqualTo("running"), "sh waits on its open stdin");
        Detach("-t", "--name", "term", "busybox", "sh", "-c", "tty; sleep 100");
        WaitFor(() => Run("logs", "term").Stdout.Contains("/dev/pts/"), "the tty line");
        Assert.That(Run("logs", "term").Stdout, Is.EqualTo("/dev/pts/0\r\n"));
    }

    [Test]
    public void PsFormats()
    {
        var id = Detach("--name", "fmt", "busybox", "sleep", "100");
        Assert.That(Run("ps", "-q").Stdout.Trim(), Is.EqualTo(id[..12]));
        Assert.That(Run("ps", "--format", "{{.Names}}\\t{{.State}}").Stdout, Is.EqualTo("fmt\trunning\n"));
        using var doc = JsonDocument.Parse(Run("ps", "--format", "json").Stdout);
        Assert.That(doc.RootElement.GetProperty("ID").GetString(), Is.EqualTo(id[..12]));
        Assert.That(doc.RootElement.GetProperty("Status").GetString(), Does.StartWith("Up "));
        using var inspect = JsonDocument.Parse(Run("inspect", "fmt").Stdout);
        Assert.That(inspect.RootElement[0].GetProperty("Config").GetProperty("Cmd")[0].GetString(), Is.EqualTo("sleep"));
    }

    [Test]
    public void AttachRelaysOutputAndStdin()
    {
        Detach("-i", "--name", "echoer", "busybox", "sh", "-c", "while read line; do echo got:$line; [ \"$line\" = quit ] && exit 4; done");
        var r = Incrun.RunWith("hello\nquit\n", TimeSpan.FromSeconds(30), "attach", "echoer");
        Assert.That(r.Stdout, Is.EqualTo("got:hello\ngot:quit\n"), r.ToString());
        Assert.That(r.ExitCode, Is.EqualTo(4), "attach returns the container's exit code");
        Assert.That(Run("attach", "echoer").Stderr.Trim(), Is.EqualTo("incrun: You cannot attach to a stopped container, start it first"));
    }

    [Test]
    public void CpCopiesBothWaysAndStaysInsideTheContainer()
    {
        var host = Path.Combine(Path.GetTempPath(), $"incrun-cp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(host, "tree", "sub"));
        try
        {
            File.WriteAllText(Path.Combine(host, "tree", "sub", "f.txt"), "payload");
            File.SetUnixFileMode(Path.Combine(host, "tree", "sub", "f.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // /escape is a symlink to the host-looking path /tmp/../..; a copy into it must land in the container
            Detach("--name", "box", "busybox", "sh", "-c", "mkdir -p /data; ln -s / /escape; echo inside > /data/in.txt; exec sleep 100");
            WaitFor(() => Run("top", "box").Stdout.Contains("sleep 100"), "the container to be ready");
            Assert.That(Run("cp", Path.Combine(host, "tree"), "box:/data").ExitCode, Is.EqualTo(0));
            var check = Run("cp", "box:/data/tree/sub/f.txt", Path.Combine(host, "back.txt"));
            Assert.That(check.ExitCode, Is.EqualTo(0), check.ToString());
            Assert.That(File.ReadAllText(Path.Combine(host, "back.txt")), Is.EqualTo("payload"));
            Assert.That(File.GetUnixFileMode(Path.Combine(host, "back.txt")).HasFlag(UnixFileMode.UserExecute), Is.True);
            Assert.That(Run("cp", "box:/data", Path.Combine(host, "out")).ExitCode, Is.EqualTo(0));
            Assert.That(File.ReadAllText(Path.Combine(host, "out", "in.txt")), Is.EqualTo("inside\n"));
            var marker = $"incrun-cp-escape-{Guid.NewGuid():N}";
            File.WriteAllText(Path.Combine(host, marker), "x");
            Assert.That(Run("cp", Path.Combine(host, marker), "box:/escape/tmp").ExitCode, Is.EqualTo(0));
            Assert.That(File.Exists(Path.Combine("/tmp", marker)), Is.False, "the symlink resolved inside the container");
            Assert.That(Run("cp", "box:/nope", host).Stderr.Trim(), Is.EqualTo("incrun: Could not find the file /nope in container"));
        }
        finally { Directory.Delete(host, true); }
    }

    [Test]
    public void FiftyParallelDetachedRunsThenRemoveAll()
    {
        var runs = Enumerable.Range(0, 50).Select(i => Task.Run(() => Run("run", "-d", "--name", $"par{i}", "busybox", "sleep", "100"))).ToArray();
        Task.WaitAll(runs);
        Assert.That(runs.Select(t => t.Result.ExitCode), Is.All.EqualTo(0), string.Join("\n", runs.Where(t => t.Result.ExitCode != 0).Select(t => t.Result.ToString())));
        var ids = Run("ps", "-q", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(ids, Has.Length.EqualTo(50));
        var pids = ids.Select(id => int.Parse(Inspect(id, "{{.State.Pid}}"))).ToList();
        var removals = ids.Chunk(10).Select(chunk => Task.Run(() => Run(["rm", "-f", .. chunk]))).ToArray();
        Task.WaitAll(removals);
        Assert.That(removals.Select(t => t.Result.ExitCode), Is.All.EqualTo(0));
        Assert.That(Run("ps", "-aq").Stdout, Is.Empty);
        Assert.That(pids.Where(p => File.Exists($"/proc/{p}/cmdline") && File.ReadAllText($"/proc/{p}/cmdline").StartsWith("sleep")), Is.Empty, "no container process left");
    }

    [Test]
    public void BadInputGetsDockersMessages()
    {
        Detach("--name", "ab1", "busybox", "sleep", "100");
        var none = Run("stop", "nosuch");
        Assert.That((none.ExitCode, none.Stderr.Trim()), Is.EqualTo((1, "incrun: No such container: nosuch")));
        Run("create", "--name", "stopped", "busybox", "true");
        var ids = Run("ps", "-aq", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var common = ids[0][..1];
        if (ids.All(i => i.StartsWith(common, StringComparison.Ordinal)))
            Assert.That(Run("inspect", common).Stderr, Does.Contain("multiple containers match"));
        Assert.That(Run("stop", "stopped").ExitCode, Is.EqualTo(0), "stopping a stopped container is not an error");
        Assert.That(Run("pause", "stopped").ExitCode, Is.EqualTo(1));
        Assert.That(Inspect("ab1", "{{.NetworkSettings.Networks.none}}"), Is.EqualTo("map{}"));
        Assert.That(Run("inspect", "-f", "{{.Nope}}", "ab1").Stderr, Does.Contain("can't evaluate field Nope"));
    }
}
