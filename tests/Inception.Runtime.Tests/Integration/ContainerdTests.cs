using System.Diagnostics;
using System.Text.Json.Nodes;
using Inception.Runtime.Native;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>
/// A containerd of the tests' own: config.toml, root, state and gRPC socket in a temp dir, the CRI plugin
/// and every plugin that would touch the host (opt, aufs/btrfs/zfs/devmapper, tracing) disabled, no
/// network. It runs in a private mount namespace whose /run is a tmpfs: the rootfs mounts of its shims
/// (overlayfs snapshots) and the shims' sockets (/run/containerd/s, fixed in containerd 1.6) never reach
/// the host. The incrun-oci symlink, the runtime's state root (ctr --runc-root; the shim adds the
/// namespace) and ctr's FIFOs are in the temp dir too. Stopped by pid; shims it leaves are ended by pid.
/// </summary>
public sealed class PrivateContainerd : IDisposable
{
    public const string Namespace = "incrun-test";
    public const string Image = "docker.io/library/busybox:latest";

    public string Dir { get; }
    public string Socket => Path.Combine(Dir, "containerd.sock");
    public string Link => Path.Combine(Dir, "incrun-oci");
    public string RuncRoot => Path.Combine(Dir, "runc");
    /// <summary>incrun-oci's --root as the shim passes it: the runc root plus the namespace.</summary>
    public string OciRoot => Path.Combine(RuncRoot, Namespace);
    public string FifoDir => Path.Combine(Dir, "fifo");
    public string LogPath => Path.Combine(Dir, "containerd.log");
    public int Pid => _daemon?.Id ?? 0;

    Process? _daemon;

    public PrivateContainerd()
    {
        Dir = Directory.CreateTempSubdirectory("incrun-ctrd-").FullName;
        try { Start(); }
        catch { Dispose(); throw; }
    }

    void Start()
    {
        File.CreateSymbolicLink(Link, Incrun.Binary);
        Directory.CreateDirectory(FifoDir);
        var config = Path.Combine(Dir, "config.toml");
        File.WriteAllText(config, $"""
            version = 2
            root = "{Dir}/root"
            state = "{Dir}/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.internal.v1.tracing",
              "io.containerd.tracing.processor.v1.otlp", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
              "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
            [grpc]
              address = "{Socket}"
            [ttrpc]
              address = "{Socket}.ttrpc"
            """);
        // unshare execs sh, which execs containerd: the pid stays the daemon's.
        var psi = new ProcessStartInfo("unshare")
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { "-m", "--propagation", "private", "sh", "-c",
            "mount -t tmpfs -o mode=0755 tmpfs /run && exec containerd --config \"$0\" >>\"$1\" 2>&1", config, LogPath })
            psi.ArgumentList.Add(a);
        _daemon = Process.Start(psi)!;
        _daemon.StandardInput.Close();
        var sw = Stopwatch.StartNew();
        while (!File.Exists(Socket) || Ctr("version").ExitCode != 0)
        {
            if (_daemon.HasExited || sw.Elapsed > TimeSpan.FromSeconds(15))
                Assert.Fail($"containerd did not come up: {_daemon.StandardError.ReadToEnd()} {Log()}");
            Thread.Sleep(20);
        }
    }

    public string Log() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "";

    public ProcessStartInfo CtrStartInfo(IEnumerable<string> args) =>
        Incrun.StartInfo(["-a", Socket, "-n", Namespace, .. args], "/usr/bin/ctr");

    public RunResult Ctr(params string[] args) => Incrun.Exec(CtrStartInfo(args), null, TimeSpan.FromSeconds(60));

    /// <summary>The flags that make `ctr run` use incrun-oci with the test's state root and FIFOs.</summary>
    public string[] Runtime => ["--fifo-dir", FifoDir, "--runc-binary", Link, "--runc-root", RuncRoot];

    /// <summary>incrun-oci on the state root the shim uses.</summary>
    public RunResult Oci(string? stdin, params string[] args) =>
        Incrun.Exec(Incrun.StartInfo(["--root", OciRoot, .. args], Link), stdin, TimeSpan.FromSeconds(30));

    /// <summary>Mounts under the temp dir in containerd's mount namespace (the snapshots' rootfs mounts).</summary>
    public List<string> Mounts() => Pid > 0 && File.Exists($"/proc/{Pid}/mountinfo")
        ? [.. File.ReadAllLines($"/proc/{Pid}/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(Dir, StringComparison.Ordinal))]
        : [];

    /// <summary>Shim processes serving this containerd (their command line names its socket).</summary>
    public List<int> Shims()
    {
        var result = new List<int>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var pid)) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(d, "cmdline")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (cmdline.StartsWith("containerd-shim", StringComparison.Ordinal) || cmdline.Contains("/containerd-shim"))
                if (cmdline.Contains(Socket)) result.Add(pid);
        }
        return result;
    }

    /// <summary>Containers (and their tasks) this containerd still has.</summary>
    public List<string> Containers() =>
        [.. Ctr("containers", "ls", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>Force-removes every task and container (a failed test's leftovers).</summary>
    public void RemoveAll()
    {
        foreach (var id in Containers())
        {
            Ctr("tasks", "rm", "-f", id);
            Ctr("containers", "rm", id);
        }
    }

    public static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) return false;
            Thread.Sleep(20);
        }
        return true;
    }

    public void Dispose()
    {
        if (_daemon is { HasExited: false })
        {
            try { RemoveAll(); } catch (Exception e) when (e is TimeoutException or IOException) { }
            Libc.kill(_daemon.Id, 15);
            if (!_daemon.WaitForExit(TimeSpan.FromSeconds(10))) { _daemon.Kill(); _daemon.WaitForExit(); }
        }
        // The shims outlive containerd; theirs are the only processes named after this socket.
        foreach (var pid in Shims()) Libc.kill(pid, 9);
        WaitUntil(() => Shims().Count == 0, TimeSpan.FromSeconds(5));
        _daemon?.Dispose();
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>
/// containerd 1.6 (ctr and the io.containerd.runc.v2 shim) driving incrun-oci as its runc, on a private
/// containerd (<see cref="PrivateContainerd"/>) with a busybox image saved by `incrun save` and imported
/// with `ctr images import`. Containers get the cgroup /&lt;run's cgroup parent&gt;/&lt;id&gt; (ctr --cgroup).
/// After each test: no container or task in containerd, nothing under the runtime's state root, no
/// snapshot mount, no cgroup, no shim (and, from ContainerTest, no host mount).
/// </summary>
[NonParallelizable]
public sealed class ContainerdTests : ContainerTest
{
    PrivateContainerd _d = null!;
    /// <summary>A slice of the run's own for the --systemd-cgroup test (no dash: systemd nests at dashes).</summary>
    static readonly string Slice = $"incrunctr{Environment.ProcessId}.slice";

    [OneTimeSetUp]
    public void StartContainerd()
    {
        if (!Incrun.IsRoot) return;
        Assert.That(File.Exists("/usr/bin/containerd") && File.Exists("/usr/bin/ctr") && File.Exists("/usr/bin/containerd-shim-runc-v2"),
            Is.True, "containerd is required (./build.sh installs it)");
        _d = new PrivateContainerd();
        var tar = Path.Combine(_d.Dir, "busybox.tar");
        var r = Incrun.Run("save", "busybox", "-o", tar);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        r = _d.Ctr("images", "import", tar);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(_d.Ctr("images", "ls", "-q").Stdout, Does.Contain(PrivateContainerd.Image));
    }

    [OneTimeTearDown]
    public void StopContainerd()
    {
        if (_d is null) return;
        int pid = _d.Pid;
        var dir = _d.Dir;
        _d.Dispose();
        Assert.That(Incrun.ProcessExists(pid), Is.False, "containerd is stopped");
        Assert.That(_d.Shims(), Is.Empty, "no shim of the private containerd is left");
        Assert.That(Directory.Exists(dir), Is.False, "the private containerd's temp dir is removed");
    }

    [TearDown]
    public void NothingLeft()
    {
        if (!Incrun.IsRoot || _d is null) return;
        var containers = _d.Containers();
        _d.RemoveAll();
        // The shim exits once its last container is deleted.
        PrivateContainerd.WaitUntil(() => _d.Shims().Count == 0, TimeSpan.FromSeconds(5));
        var shims = _d.Shims();
        var state = Directory.Exists(_d.OciRoot) ? Directory.GetFileSystemEntries(_d.OciRoot) : [];
        var mounts = _d.Mounts();
        var cgroups = CgroupDirs(Incrun.CgroupParent).Concat(CgroupDirs(Slice)).ToList();
        var children = cgroups.SelectMany(c => Directory.GetDirectories(c)).ToList();
        foreach (var c in cgroups) RemoveCgroup(c);
        Assert.That(containers, Is.Empty, "containers left in containerd");
        Assert.That(state, Is.Empty, "incrun-oci state left under the shim's --root");
        Assert.That(mounts, Is.Empty, "snapshot mounts left in containerd's mount namespace");
        Assert.That(children, Is.Empty, "container cgroups left");
        Assert.That(shims, Is.Empty, "shims left running");
    }

    /// <summary>Every cgroup directory called <paramref name="name"/> at the top of a hierarchy.</summary>
    static List<string> CgroupDirs(string name) =>
        [.. Directory.EnumerateDirectories("/sys/fs/cgroup", name, new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 1 })];

    static void RemoveCgroup(string dir)
    {
        foreach (var sub in Directory.GetDirectories(dir)) RemoveCgroup(sub);
        try { Directory.Delete(dir); } catch (IOException) { }
    }

    static string CgroupOf(string id) => $"/{Incrun.CgroupParent}/{id}";

    /// <summary>A cgroup file: the v1 controller's hierarchy on this hybrid host, the unified one on v2.</summary>
    static string CgroupFile(string controller, string cgroup, string v1File, string v2File) =>
        Directory.Exists($"/sys/fs/cgroup/{controller}")
            ? Path.Combine("/sys/fs/cgroup", controller, cgroup.TrimStart('/'), v1File)
            : Path.Combine("/sys/fs/cgroup", cgroup.TrimStart('/'), v2File);

    static HashSet<int> Procs(string cgroup) =>
        [.. File.ReadAllLines(CgroupFile("pids", cgroup, "cgroup.procs", "cgroup.procs")).Select(int.Parse)];

    RunResult CtrRun(string id, params string[] args) =>
        _d.Ctr(["run", "--rm", .. _d.Runtime, "--cgroup", CgroupOf(id), .. args.TakeWhile(a => a != "--"), PrivateContainerd.Image, id,
            .. args.SkipWhile(a => a != "--").Skip(1)]);

    /// <summary>`ctr run -d` of a task that keeps running; returns its pid (the container's process).</summary>
    int RunDetached(string id, string[] flags, params string[] command)
    {
        var r = _d.Ctr(["run", "-d", "--null-io", .. _d.Runtime, "--cgroup", CgroupOf(id), .. flags, PrivateContainerd.Image, id, .. command]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var (pid, status) = Task(id);
        Assert.That(status, Is.EqualTo("RUNNING"));
        return pid;
    }

    /// <summary>`ctr task ls`: the task's pid and status.</summary>
    (int Pid, string Status) Task(string id)
    {
        var line = _d.Ctr("tasks", "ls").Stdout.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(f => f.Length == 3 && f[0] == id);
        Assert.That(line, Is.Not.Null, $"task {id} in ctr tasks ls");
        return (int.Parse(line![1]), line[2]);
    }

    /// <summary>`ctr tasks rm -f` (SIGKILL, then the runtime's delete) and `ctr containers rm`.</summary>
    void ForceRemove(string id)
    {
        var r = _d.Ctr("tasks", "rm", "-f", id);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        r = _d.Ctr("containers", "rm", id);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(Directory.Exists(Path.Combine(_d.OciRoot, id)), Is.False, "the runtime's state is deleted");
    }

    JsonObject OciState(string id)
    {
        var r = _d.Oci(null, "state", id);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return JsonNode.Parse(r.Stdout)!.AsObject();
    }

    /// <summary>ctr on a terminal: under script(1) in a pty of 100x30, its stdin held open until it exits
    /// (an EOF on ctr's stdin closes the container's console).</summary>
    RunResult OnATerminal(params string[] ctrArgs)
    {
        var line = "stty cols 100 rows 30; exec " + string.Join(' ',
            new[] { "/usr/bin/ctr", "-a", _d.Socket, "-n", PrivateContainerd.Namespace }.Concat(ctrArgs).Select(OciBundle.Q));
        var psi = Incrun.StartInfo(["-qec", line, "/dev/null"], "script");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"ctr on a terminal did not finish: {stdout.Result} {stderr.Result}");
        }
        p.StandardInput.Close();
        p.WaitForExit();
        return new RunResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Test]
    public void RunPrintsTheOutputAndReturnsTheExitCode()
    {
        var r = CtrRun("r1", "--", "sh", "-c", "echo hi; echo pid $$; grep -c ':/" + Incrun.CgroupParent + "/r1$' /proc/self/cgroup; exit 7");
        Assert.That(r.ExitCode, Is.EqualTo(7), r.ToString());
        var lines = r.Stdout.Split('\n');
        Assert.That(lines[0], Is.EqualTo("hi"));
        Assert.That(lines[1], Is.EqualTo("pid 1"), "the command is pid 1 of its pid namespace");
        Assert.That(int.Parse(lines[2]), Is.GreaterThan(0), "the process runs in the cgroup ctr --cgroup names");
        r = CtrRun("r2", "--", "true");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
    }

    [Test]
    public void EnvAndCwd()
    {
        var r = CtrRun("v1", "--env", "FOO=bar baz", "--cwd", "/etc", "--", "sh", "-c", "echo \"$FOO|$(pwd)|$PATH\"");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.StartWith("bar baz|/etc|/"), "--env, --cwd and the image's PATH");
    }

    /// <summary>ctr resizes the console just after the task starts (as with runc): the command waits for
    /// the size to arrive on its pty, which the shim holds through the console socket.</summary>
    [Test]
    public void TtyGivesAPtyOfTheClientsSize()
    {
        var r = OnATerminal(["run", "-t", "--rm", .. _d.Runtime, "--cgroup", CgroupOf("t1"), PrivateContainerd.Image, "t1",
            "sh", "-c", "tty; i=0; until [ \"$(stty size 2>/dev/null)\" = '30 100' ] || [ $i = 200 ]; do sleep 0.05; i=$((i+1)); done; stty size; echo TTY-OK; exit 5"]);
        Assert.That(r.ExitCode, Is.EqualTo(5), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"^/dev/pts/\d+\r\r?\n30 100\r\r?\nTTY-OK"), r.ToString());

        RunDetached("t2", [], "sleep", "1000");
        r = OnATerminal("tasks", "exec", "-t", "--fifo-dir", _d.FifoDir, "--exec-id", "tty1", "t2", "sh", "-c", "tty; test -t 0 && echo ON-A-TTY; exit 4");
        Assert.That(r.ExitCode, Is.EqualTo(4), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"^/dev/pts/\d+\r\r?\nON-A-TTY"), r.ToString());
        ForceRemove("t2");
    }

    [Test]
    public void MemoryLimitUpdateStatsAndOomKill()
    {
        int pid = RunDetached("m1", ["--memory-limit", "33554432"], "sleep", "1000");
        var limit = CgroupFile("memory", CgroupOf("m1"), "memory.limit_in_bytes", "memory.max");
        Assert.That(File.ReadAllText(limit).Trim(), Is.EqualTo("33554432"));
        Assert.That(Procs(CgroupOf("m1")), Does.Contain(pid));

        // What the shim runs for an UpdateTask: `update --resources -` with linux.resources on stdin.
        var r = _d.Oci("{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":50}}", "update", "--resources", "-", "m1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(File.ReadAllText(limit).Trim(), Is.EqualTo("67108864"));
        Assert.That(File.ReadAllText(CgroupFile("pids", CgroupOf("m1"), "pids.max", "pids.max")).Trim(), Is.EqualTo("50"));
        r = _d.Oci(null, "events", "--stats", "m1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var stats = JsonNode.Parse(r.Stdout)!;
        Assert.That((long)stats["data"]!["memory"]!["usage"]!["limit"]!, Is.EqualTo(67108864));
        Assert.That((int)stats["data"]!["pids"]!["current"]!, Is.EqualTo(1));
        // containerd's own view of the cgroup (the shim reads it directly)
        Assert.That(_d.Ctr("tasks", "metrics", "m1").Stdout, Does.Contain("67108864"));
        ForceRemove("m1");

        r = CtrRun("m2", "--memory-limit", "20971520", "--", "sh", "-c", "x=a; while true; do x=$x$x; done");
        Assert.That(r.ExitCode, Is.EqualTo(137), r.ToString());
    }

    [Test]
    public void TaskExecPsPauseResumeKillAllAndDelete()
    {
        int pid = RunDetached("x1", [], "sleep", "1000");
        // As with runc, start returns once init is past the exec gate; the exec follows at once.
        OciBundle.WaitFor(() => File.ReadAllText($"/proc/{pid}/cmdline") == "sleep\u00001000\u0000", "the task's pid to exec the command");
        var state = OciState("x1");
        Assert.That((string?)state["status"], Is.EqualTo("running"));
        Assert.That((int)state["pid"]!, Is.EqualTo(pid));
        Assert.That(Procs(CgroupOf("x1")), Is.EquivalentTo(new[] { pid }));

        var r = _d.Ctr("tasks", "exec", "--fifo-dir", _d.FifoDir, "--exec-id", "e1", "--cwd", "/tmp", "--user", "1000", "x1",
            "sh", "-c", "echo $(pwd) $(id -u); exit 3");
        Assert.That(r.ExitCode, Is.EqualTo(3), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("/tmp 1000\n"));
        // an exec error comes back through the runtime's json log, as the shim reads runc's
        r = _d.Ctr("tasks", "exec", "--fifo-dir", _d.FifoDir, "--exec-id", "bad", "x1", "/no/such/program");
        Assert.That(r.ExitCode, Is.Not.EqualTo(0), r.ToString());
        Assert.That(r.Stderr, Does.Contain("OCI runtime exec failed: exec: \"/no/such/program\": stat /no/such/program: no such file or directory"));
        r = _d.Ctr("tasks", "exec", "-d", "--fifo-dir", _d.FifoDir, "--exec-id", "e2", "x1", "sleep", "500");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var procs = Procs(CgroupOf("x1"));
        Assert.That(procs, Has.Count.EqualTo(2), "the exec'd process joined the container's cgroup");
        int execPid = procs.Single(p => p != pid);
        OciBundle.WaitFor(() => File.ReadAllText($"/proc/{execPid}/cmdline") == "sleep\u0000500\u0000", "the exec'd process to run sleep");
        Assert.That(new FileInfo($"/proc/{execPid}/ns/pid").LinkTarget, Is.EqualTo(new FileInfo($"/proc/{pid}/ns/pid").LinkTarget));

        // ctr tasks ps: the shim's `ps --format json`
        r = _d.Ctr("tasks", "ps", "x1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var listed = r.Stdout.Split('\n').Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 0).Select(f => int.Parse(f[0]));
        Assert.That(listed, Is.EquivalentTo(procs));

        var freezer = CgroupFile("freezer", CgroupOf("x1"), "freezer.state", "cgroup.freeze");
        Assert.That(_d.Ctr("tasks", "pause", "x1").ExitCode, Is.EqualTo(0));
        Assert.That(File.ReadAllText(freezer).Trim(), Is.AnyOf("FROZEN", "1"));
        Assert.That(Task("x1").Status, Is.EqualTo("PAUSED"));
        Assert.That((string?)OciState("x1")["status"], Is.EqualTo("paused"));
        Assert.That(_d.Ctr("tasks", "resume", "x1").ExitCode, Is.EqualTo(0));
        Assert.That(File.ReadAllText(freezer).Trim(), Is.AnyOf("THAWED", "0"));
        Assert.That(Task("x1").Status, Is.EqualTo("RUNNING"));

        // kill --all: every process of the cgroup, the exec'd one too
        r = _d.Ctr("tasks", "kill", "-a", "-s", "SIGKILL", "x1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(PrivateContainerd.WaitUntil(() => Task("x1").Status == "STOPPED", TimeSpan.FromSeconds(10)), Is.True, "the task stops");
        Assert.That(PrivateContainerd.WaitUntil(() => !Incrun.ProcessExists(execPid), TimeSpan.FromSeconds(10)), Is.True, "the exec'd process is killed");

        r = _d.Ctr("tasks", "rm", "x1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(Directory.Exists(Path.Combine(_d.OciRoot, "x1")), Is.False, "delete removes the runtime's state");
        Assert.That(Directory.Exists(Path.GetDirectoryName(freezer)), Is.False, "delete removes the cgroup");
        Assert.That(_d.Ctr("containers", "rm", "x1").ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void KillSendsTheSignalToTheForegroundTask()
    {
        var psi = _d.CtrStartInfo(["run", "--rm", .. _d.Runtime, "--cgroup", CgroupOf("k1"), PrivateContainerd.Image, "k1",
            "sh", "-c", "trap 'echo got-TERM; exit 3' TERM; echo ready; while true; do sleep 0.1; done"]);
        var (p, stdout, stderr) = Incrun.StartUntil(psi, "ready");
        using var _ = p;
        try
        {
            var r = _d.Ctr("tasks", "kill", "k1");
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(p.WaitForExit(TimeSpan.FromSeconds(20)), Is.True, "ctr run returns when the task exits");
            p.WaitForExit();
            lock (stderr) Assert.That(p.ExitCode, Is.EqualTo(3), stderr.ToString());
            lock (stdout) Assert.That(stdout.ToString(), Is.EqualTo("ready\ngot-TERM\n"));
        }
        finally
        {
            if (!p.HasExited) { p.Kill(entireProcessTree: true); p.WaitForExit(); }
        }
    }

    [Test]
    public void SystemdCgroupFlagMapsTheSliceOntoCgroupfs()
    {
        var r = _d.Ctr(["run", "--rm", .. _d.Runtime, "--runc-systemd-cgroup", "--cgroup", $"{Slice}:incrun:s1", PrivateContainerd.Image, "s1",
            "cat", "/proc/self/cgroup"]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Contain($":/{Slice}/incrun-s1.scope\n"), "slice:prefix:name is /slice/prefix-name.scope");
    }

    [Test]
    public void ACreateErrorReachesCtrInOneLine()
    {
        var r = CtrRun("n1", "--", "/no/such/program");
        Assert.That(r.ExitCode, Is.Not.EqualTo(0), r.ToString());
        var error = r.Stderr.Trim();
        Assert.That(error.Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.Contain("OCI runtime create failed: exec: \"/no/such/program\": stat /no/such/program: no such file or directory"));
        // the shim took the message from the runtime's --log (json lines), not from its exit status and stderr
        Assert.That(error, Does.Not.Contain("exit status"));
    }
}
