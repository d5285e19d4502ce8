using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Inception.Runtime.Native;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>
/// A bundle (busybox rootfs + config.json from `incrun-oci spec`), a state root and the `incrun-oci`
/// symlink to the binary under test, all in a temp dir of the test's own.
/// </summary>
public sealed class OciBundle : IDisposable
{
    public string Dir { get; }
    public string Link => Path.Combine(Dir, "incrun-oci");
    public string Root => Path.Combine(Dir, "state");
    public string Bundle => Path.Combine(Dir, "bundle");
    public string Rootfs => Path.Combine(Bundle, "rootfs");
    public string ConfigPath => Path.Combine(Bundle, "config.json");

    public OciBundle()
    {
        Dir = Directory.CreateTempSubdirectory("incrun-oci-").FullName;
        File.CreateSymbolicLink(Link, Incrun.Binary);
        foreach (var d in new[] { "bin", "proc", "dev", "sys", "tmp", "etc" }) Directory.CreateDirectory(Path.Combine(Rootfs, d));
        File.Copy("/bin/busybox", Path.Combine(Rootfs, "bin", "busybox"));
        File.SetUnixFileMode(Path.Combine(Rootfs, "bin", "busybox"), (UnixFileMode)0x1ed);
        foreach (var applet in new[] { "sh", "echo", "cat", "sleep", "ls", "id", "hostname", "tty", "touch", "mount", "grep", "stty", "true", "uname" })
            File.CreateSymbolicLink(Path.Combine(Rootfs, "bin", applet), "busybox");
        var r = Oci("spec", "--bundle", Bundle);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Edit(c => c["process"]!["terminal"] = false);
    }

    public void Edit(Action<JsonObject> change)
    {
        var config = JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();
        change(config);
        File.WriteAllText(ConfigPath, config.ToJsonString());
    }

    public void Args(params string[] args) => Edit(c => c["process"]!["args"] = new JsonArray([.. args.Select(a => (JsonNode)a)]));

    /// <summary>incrun-oci --root ROOT args…, output captured (for verbs whose stdio the container does not inherit).</summary>
    public RunResult Oci(params string[] args) =>
        Incrun.Exec(Incrun.StartInfo(["--root", Root, .. args], Link), null, TimeSpan.FromSeconds(60));

    /// <summary>A verb whose stdio the container inherits (create, run -d): through sh, with stdout and
    /// stderr appended to <paramref name="output"/>, as an engine hands the runtime files or pipes it keeps.</summary>
    public RunResult OciTo(string output, params string[] args)
    {
        var line = $"exec {Q(Link)} --root {Q(Root)} {string.Join(' ', args.Select(Q))} >>{Q(output)} 2>&1 </dev/null";
        return Incrun.Exec(Incrun.StartInfo(["-c", line], "sh"), null, TimeSpan.FromSeconds(60));
    }

    public static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";

    public JsonObject State(string id)
    {
        var r = Oci("state", id);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return JsonNode.Parse(r.Stdout)!.AsObject();
    }

    public static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(10);
        }
    }

    /// <summary>Removes whatever a failed test left (force-deletes containers), then the temp dir.</summary>
    public void Dispose()
    {
        if (Directory.Exists(Root))
            foreach (var d in Directory.GetDirectories(Root)) Oci("delete", "--force", Path.GetFileName(d));
        Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>incrun-oci driven the way engines drive runc: verbs on a bundle, state read back from the
/// host. After each test: nothing under the OCI root, no cgroup, no host mount (ContainerTest).</summary>
public sealed class OciTests : ContainerTest
{
    OciBundle _b = null!;
    string Output => Path.Combine(_b.Dir, "out.txt");

    [SetUp]
    public void MakeBundle() => _b = new OciBundle();

    [TearDown]
    public void RootIsEmpty()
    {
        var left = Directory.Exists(_b.Root) ? Directory.GetFileSystemEntries(_b.Root) : [];
        _b.Dispose();
        Assert.That(left, Is.Empty, "container state left under the OCI root");
    }

    [Test]
    public void CreateStartKillDelete()
    {
        _b.Args("sleep", "300");
        var pidFile = Path.Combine(_b.Dir, "pid");
        var r = _b.OciTo(Output, "create", "--bundle", _b.Bundle, "--pid-file", pidFile, "c1");
        Assert.That(r.ExitCode, Is.EqualTo(0), File.ReadAllText(Output));

        var created = _b.State("c1");
        Assert.That((string?)created["status"], Is.EqualTo("created"));
        Assert.That((string?)created["id"], Is.EqualTo("c1"));
        Assert.That((string?)created["bundle"], Is.EqualTo(_b.Bundle));
        int pid = (int)created["pid"]!;
        Assert.That(File.ReadAllText(pidFile), Is.EqualTo(pid.ToString()));
        Assert.That(Incrun.ProcessExists(pid), Is.True);
        Assert.That(File.ReadAllText($"/proc/{pid}/cmdline"), Does.Not.Contain("sleep"), "the command must not run before start");
        // init sits in the container's own cgroup and namespaces already
        Assert.That(File.ReadAllText($"/proc/{pid}/cgroup"), Does.Contain($"/{Incrun.CgroupParent}/c1"));
        Assert.That(new FileInfo($"/proc/{pid}/ns/pid").LinkTarget, Is.Not.EqualTo(new FileInfo("/proc/self/ns/pid").LinkTarget));

        r = _b.Oci("start", "c1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var running = _b.State("c1");
        Assert.That((string?)running["status"], Is.EqualTo("running"));
        Assert.That((int)running["pid"]!, Is.EqualTo(pid), "the container's pid is the user process (init exec'd it)");
        // As with runc, start returns once init has passed the exec gate; the exec itself follows at once.
        OciBundle.WaitFor(() => File.ReadAllText($"/proc/{pid}/cmdline") == "sleep\0300\0", "init to exec the command");

        r = _b.Oci("start", "c1");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun-oci: cannot start an already running container"));
        r = _b.Oci("delete", "c1");
        Assert.That(r.ExitCode, Is.EqualTo(1), "a running container is not deleted without --force");
        Assert.That(r.Stderr, Does.Contain("not stopped: running"));

        r = _b.Oci("kill", "c1", "KILL");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        OciBundle.WaitFor(() => (string?)_b.State("c1")["status"] == "stopped", "status stopped");

        r = _b.Oci("delete", "c1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(Directory.Exists(Path.Combine(_b.Root, "c1")), Is.False);
        r = _b.Oci("state", "c1");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun-oci: container \"c1\" does not exist"));
    }

    [Test]
    public void DeleteOfACreatedContainerKillsItsInit()
    {
        _b.Args("true");
        Assert.That(_b.OciTo(Output, "create", "-b", _b.Bundle, "c2").ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        int pid = (int)_b.State("c2")["pid"]!;
        var r = _b.Oci("delete", "c2");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(Incrun.ProcessExists(pid), Is.False);
    }

    [Test]
    public void RunInTheForegroundReturnsTheExitStatus()
    {
        _b.Args("sh", "-c", "echo hello from $(hostname); exit 7");
        // as `runc spec` writes them: ambient capabilities without inheritable ones (raised best effort)
        _b.Edit(c => c["process"]!["capabilities"]!["ambient"] = new JsonArray("CAP_KILL"));
        var r = _b.Oci("run", "-b", _b.Bundle, "fg");
        Assert.That(r.ExitCode, Is.EqualTo(7), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("hello from incrun\n"));
        Assert.That(Directory.Exists(Path.Combine(_b.Root, "fg")), Is.False, "a foreground run deletes its container");
    }

    [Test]
    public void ConsoleSocketReceivesThePtyMaster()
    {
        _b.Edit(c => c["process"]!["terminal"] = true);
        _b.Edit(c => c["process"]!["consoleSize"] = new JsonObject { ["height"] = 21, ["width"] = 77 });
        _b.Args("sh", "-c", "tty; stty size; echo PTY-OK");
        var socketPath = Path.Combine(_b.Dir, "console.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(1);
        var accepted = listener.AcceptAsync();

        var r = _b.OciTo(Output, "run", "-d", "--console-socket", socketPath, "-b", _b.Bundle, "tty1");
        Assert.That(r.ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        using var conn = accepted.Result;
        int master = ReceiveFd((int)conn.Handle);
        Assert.That(master, Is.GreaterThanOrEqualTo(0), "one message carrying an fd (SCM_RIGHTS)");
        var text = new StringBuilder();
        using (var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(master, true), FileAccess.Read, 1))
        {
            var buf = new byte[4096];
            int n;
            try { while (!text.ToString().Contains("PTY-OK") && (n = stream.Read(buf)) > 0) text.Append(Encoding.UTF8.GetString(buf, 0, n)); }
            catch (IOException) { } // EIO once the slave side is closed
        }
        Assert.That(text.ToString(), Does.Match(@"/dev/pts/\d+"));
        Assert.That(text.ToString(), Does.Contain("21 77"));
        Assert.That(text.ToString(), Does.Contain("PTY-OK"));
        OciBundle.WaitFor(() => (string?)_b.State("tty1")["status"] == "stopped", "the container to exit");
        Assert.That(_b.Oci("delete", "tty1").ExitCode, Is.EqualTo(0));
    }

    static unsafe int ReceiveFd(int socket)
    {
        byte* data = stackalloc byte[256];
        byte* control = stackalloc byte[64];
        var iov = new Libc.IoVec { Base = data, Len = 256 };
        var msg = new Libc.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 64 };
        if (Libc.recvmsg(socket, &msg, Libc.MSG_CMSG_CLOEXEC) <= 0) return -1;
        if (msg.ControlLen < 20 || *(int*)(control + 8) != Libc.SOL_SOCKET || *(int*)(control + 12) != Libc.SCM_RIGHTS) return -1;
        return *(int*)(control + 16);
    }

    [Test]
    public void PreservedAndListenFdsReachTheProcessAndNothingElse()
    {
        var file = Path.Combine(_b.Dir, "data");
        File.WriteAllText(file, "fd-three\n");
        _b.Args("sh", "-c", "cat <&3; cat <&4; echo LISTEN_FDS=$LISTEN_FDS; ls /proc/self/fd");
        // LISTEN_FDS=1: fd 3 is a socket-activation fd; --preserve-fds 1 adds fd 4; fd 5 is open but not passed.
        var line = $"exec 3<{OciBundle.Q(file)} 4<{OciBundle.Q(file)} 5<{OciBundle.Q(file)}; LISTEN_FDS=1 exec {OciBundle.Q(_b.Link)} --root {OciBundle.Q(_b.Root)} run --preserve-fds 1 -b {OciBundle.Q(_b.Bundle)} fds";
        var r = Incrun.Exec(Incrun.StartInfo(["-c", line], "sh"), null, TimeSpan.FromSeconds(60));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Is.EqualTo("fd-three"));
        Assert.That(lines[1], Is.EqualTo("fd-three"));
        Assert.That(lines[2], Is.EqualTo("LISTEN_FDS=1"));
        // ls itself opens one fd for the directory it lists: 0 1 2 3 4 and that one.
        var fds = lines.Skip(3).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse).ToList();
        Assert.That(fds.Take(5), Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));
        Assert.That(fds.Count, Is.EqualTo(6), $"no other fd may leak into the container: {string.Join(' ', fds)}");
    }

    [Test]
    public void HooksRunAtTheirPointsWithTheStateOnStdin()
    {
        var hooks = Path.Combine(_b.Dir, "hooks");
        Directory.CreateDirectory(hooks);
        JsonObject Hook(string script) => new() { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", script), ["timeout"] = 5 };
        _b.Edit(c =>
        {
            c["root"]!["readonly"] = false;
            c["hooks"] = new JsonObject
            {
                ["prestart"] = new JsonArray(Hook($"cat > {hooks}/prestart")),
                ["createRuntime"] = new JsonArray(Hook($"cat > {hooks}/createRuntime")),
                // runs in the container's mount namespace before pivot_root: the host's paths still resolve
                ["createContainer"] = new JsonArray(Hook($"cat > {hooks}/createContainer; readlink /proc/self/ns/mnt > {hooks}/createContainer.mnt")),
                // runs inside the container's root after start: the path is the container's
                ["startContainer"] = new JsonArray(Hook("cat > /tmp/startContainer")),
                ["poststart"] = new JsonArray(Hook($"cat > {hooks}/poststart")),
                ["poststop"] = new JsonArray(Hook($"cat > {hooks}/poststop")),
            };
        });
        _b.Args("sleep", "300");
        Assert.That(_b.OciTo(Output, "create", "-b", _b.Bundle, "h1").ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        int pid = (int)_b.State("h1")["pid"]!;
        foreach (var name in new[] { "prestart", "createRuntime", "createContainer" })
        {
            var state = JsonNode.Parse(File.ReadAllText(Path.Combine(hooks, name)))!;
            Assert.That((string?)state["id"], Is.EqualTo("h1"), name);
            Assert.That((int)state["pid"]!, Is.EqualTo(pid), name);
            Assert.That((string?)state["bundle"], Is.EqualTo(_b.Bundle), name);
            Assert.That((string?)state["status"], Is.EqualTo("creating"), name);
        }
        Assert.That(File.ReadAllText(Path.Combine(hooks, "createContainer.mnt")).Trim(),
            Is.EqualTo(new FileInfo($"/proc/{pid}/ns/mnt").LinkTarget), "createContainer runs in the container's mount namespace");
        Assert.That(File.Exists(Path.Combine(hooks, "poststart")), Is.False);
        Assert.That(File.Exists(Path.Combine(_b.Rootfs, "tmp", "startContainer")), Is.False);

        Assert.That(_b.Oci("start", "h1").ExitCode, Is.EqualTo(0));
        OciBundle.WaitFor(() => File.Exists(Path.Combine(_b.Rootfs, "tmp", "startContainer")), "the startContainer hook");
        Assert.That((string?)JsonNode.Parse(File.ReadAllText(Path.Combine(hooks, "poststart")))!["status"], Is.EqualTo("running"));
        Assert.That((string?)JsonNode.Parse(File.ReadAllText(Path.Combine(_b.Rootfs, "tmp", "startContainer")))!["status"], Is.EqualTo("created"));
        Assert.That(File.Exists(Path.Combine(hooks, "poststop")), Is.False);

        Assert.That(_b.Oci("delete", "--force", "h1").ExitCode, Is.EqualTo(0));
        Assert.That((string?)JsonNode.Parse(File.ReadAllText(Path.Combine(hooks, "poststop")))!["status"], Is.EqualTo("stopped"));
    }

    [Test]
    public void AFailingHookFailsCreateAndLeavesNothing()
    {
        _b.Edit(c => c["hooks"] = new JsonObject
        {
            ["createRuntime"] = new JsonArray(new JsonObject { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", "exit 3") }),
        });
        _b.Args("sleep", "300");
        var r = _b.OciTo(Output, "--log", Path.Combine(_b.Dir, "log.json"), "--log-format", "json", "create", "-b", _b.Bundle, "h2");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(File.ReadAllText(Output).Trim(), Is.EqualTo("incrun-oci: createRuntime hook /bin/sh: exit status 3"));
        var log = JsonNode.Parse(File.ReadAllLines(Path.Combine(_b.Dir, "log.json")).Last())!;
        Assert.That((string?)log["level"], Is.EqualTo("error"));
        Assert.That((string?)log["msg"], Is.EqualTo("createRuntime hook /bin/sh: exit status 3"));
        Assert.That((string?)log["time"], Is.Not.Empty);
    }

    [Test]
    public void AHookThatOutlivesItsTimeoutIsKilled()
    {
        _b.Edit(c => c["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/bin/sleep", ["args"] = new JsonArray("sleep", "60"), ["timeout"] = 1 }),
        });
        var sw = Stopwatch.StartNew();
        var r = _b.OciTo(Output, "create", "-b", _b.Bundle, "h3");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
        Assert.That(File.ReadAllText(Output), Does.Contain("prestart hook /bin/sleep: timed out after 1 s"));
    }

    [Test]
    public void BadConfigIsOneLineAndLeavesNothing()
    {
        File.WriteAllText(_b.ConfigPath, "{ \"ociVersion\": \"1.0.2\", \"process\": ");
        var r = _b.OciTo(Output, "create", "-b", _b.Bundle, "bad");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        var lines = File.ReadAllLines(Output);
        Assert.That(lines, Has.Length.EqualTo(1), string.Join('\n', lines));
        Assert.That(lines[0], Does.StartWith($"incrun-oci: {_b.ConfigPath}: invalid JSON"));

        File.WriteAllText(_b.ConfigPath, "{ \"ociVersion\": \"1.0.2\", \"root\": { \"path\": \"rootfs\" } }");
        r = _b.Oci("create", "-b", _b.Bundle, "bad");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo($"incrun-oci: {_b.ConfigPath}: process is missing (an OCI spec needs process.args)"));

        r = _b.Oci("create", "-b", _b.Bundle, "../evil");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("invalid container id"));
    }

    [Test]
    public void ACommandThatIsNotThereFailsCreate()
    {
        _b.Args("/no/such/program");
        var r = _b.Oci("create", "-b", _b.Bundle, "nx");
        Assert.That(r.ExitCode, Is.EqualTo(127), r.ToString());
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun-oci: exec: \"/no/such/program\": stat /no/such/program: no such file or directory"));
    }

    [Test]
    public void ConfigFieldsAreAppliedInsideTheContainer()
    {
        var shared = Path.Combine(_b.Dir, "shared");
        Directory.CreateDirectory(shared);
        File.WriteAllText(Path.Combine(shared, "f"), "from-host\n");
        _b.Edit(c =>
        {
            c["hostname"] = "box1";
            c["domainname"] = "example.test";
            var p = c["process"]!;
            p["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000, ["additionalGids"] = new JsonArray(5, 27), ["umask"] = 63 /* 077 */ };
            p["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 321, ["hard"] = 654 });
            p["oomScoreAdj"] = 123;
            p["apparmorProfile"] = "some-profile";
            c["mounts"]!.AsArray().Add(new JsonObject { ["destination"] = "/data", ["type"] = "bind", ["source"] = shared, ["options"] = new JsonArray("rbind", "ro", "rprivate") });
            c["mounts"]!.AsArray().Add(new JsonObject { ["destination"] = "/scratch", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = new JsonArray("size=1m", "mode=1777") });
        });
        _b.Args("sh", "-c",
            "hostname; cat /proc/sys/kernel/domainname; id -u; id -G; umask; ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj; " +
            "cat /data/f; touch /data/x 2>/dev/null || echo data-ro; touch /x 2>/dev/null || echo root-ro; touch /scratch/y && echo scratch-rw; " +
            "grep -c ' /scratch tmpfs' /proc/mounts; grep CapEff /proc/self/status");
        var r = _b.Oci("run", "-b", _b.Bundle, "cfg");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout.Split('\n'), Is.EqualTo(new[]
        {
            "box1", "example.test", "1000", "1000 5 27", "0077", "321", "654", "123",
            "from-host", "data-ro", "root-ro", "scratch-rw", "1", "CapEff:\t0000000000000000", "",
        }), r.ToString());
        Assert.That(r.Stderr, Does.Contain("apparmorProfile \"some-profile\""), "the AppArmor profile is accepted with a warning");
    }

    [Test]
    public void PausePsUpdateEventsAndForcedDelete()
    {
        _b.Args("sh", "-c", "sleep 300 & sleep 301; true");
        var r = _b.OciTo(Output, "run", "-d", "-b", _b.Bundle, "p1");
        Assert.That(r.ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        int pid = (int)_b.State("p1")["pid"]!;
        OciBundle.WaitFor(() => JsonNode.Parse(_b.Oci("ps", "--format", "json", "p1").Stdout)!.AsArray().Count == 3, "three processes");
        var pids = JsonNode.Parse(_b.Oci("ps", "--format", "json", "p1").Stdout)!.AsArray().Select(n => (int)n!).ToList();
        Assert.That(pids, Does.Contain(pid));

        Assert.That(_b.Oci("pause", "p1").ExitCode, Is.EqualTo(0));
        Assert.That((string?)_b.State("p1")["status"], Is.EqualTo("paused"));
        Assert.That(File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][0], Is.EqualTo('D').Or.EqualTo('S').Or.EqualTo('T'));
        Assert.That(_b.Oci("resume", "p1").ExitCode, Is.EqualTo(0));
        Assert.That((string?)_b.State("p1")["status"], Is.EqualTo("running"));

        r = _b.Oci("update", "--pids-limit", "42", "p1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var pidsDir = Directory.Exists("/sys/fs/cgroup/pids") ? "/sys/fs/cgroup/pids" : "/sys/fs/cgroup";
        Assert.That(File.ReadAllText(Path.Combine(pidsDir, Incrun.CgroupParent, "p1", "pids.max")).Trim(), Is.EqualTo("42"));

        r = _b.Oci("events", "--stats", "p1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var ev = JsonNode.Parse(r.Stdout)!;
        Assert.That((string?)ev["type"], Is.EqualTo("stats"));
        Assert.That((long)ev["data"]!["pids"]!["current"]!, Is.EqualTo(3));

        var list = JsonNode.Parse(_b.Oci("list", "--format", "json").Stdout)!.AsArray();
        Assert.That(list.Select(s => (string?)s!["id"]), Is.EqualTo(new[] { "p1" }));

        Assert.That(_b.Oci("delete", "--force", "p1").ExitCode, Is.EqualTo(0));
        foreach (var p in pids) Assert.That(Incrun.ProcessExists(p), Is.False, $"pid {p} survived delete --force");
    }

    [Test]
    public void KillAllSignalsEveryProcessOfTheCgroup()
    {
        _b.Args("sh", "-c", "trap '' TERM; sleep 300 & wait");
        Assert.That(_b.OciTo(Output, "run", "-d", "-b", _b.Bundle, "k1").ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        OciBundle.WaitFor(() => JsonNode.Parse(_b.Oci("ps", "--format", "json", "k1").Stdout)!.AsArray().Count == 2, "two processes");
        Assert.That(_b.Oci("kill", "--all", "k1", "9").ExitCode, Is.EqualTo(0));
        OciBundle.WaitFor(() => (string?)_b.State("k1")["status"] == "stopped", "status stopped");
        Assert.That(_b.Oci("delete", "k1").ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void NamespacesWithAPathAreJoined()
    {
        _b.Args("sleep", "300");
        _b.Edit(c => c["hostname"] = "first");
        Assert.That(_b.OciTo(Output, "run", "-d", "-b", _b.Bundle, "ns1").ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        int pid = (int)_b.State("ns1")["pid"]!;
        // a second container in the first one's PID, network and UTS namespaces (a pod, as Kubernetes makes them)
        _b.Edit(c =>
        {
            c.Remove("hostname");
            c["linux"]!["namespaces"] = new JsonArray(
                new JsonObject { ["type"] = "pid", ["path"] = $"/proc/{pid}/ns/pid" },
                new JsonObject { ["type"] = "network", ["path"] = $"/proc/{pid}/ns/net" },
                new JsonObject { ["type"] = "uts", ["path"] = $"/proc/{pid}/ns/uts" },
                new JsonObject { ["type"] = "ipc" }, new JsonObject { ["type"] = "mount" });
        });
        _b.Args("sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/pid; hostname; cat /proc/1/cmdline");
        var r = _b.Oci("run", "-b", _b.Bundle, "ns2");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout.Split('\n'), Is.EqualTo(new[]
        {
            new FileInfo($"/proc/{pid}/ns/net").LinkTarget, new FileInfo($"/proc/{pid}/ns/pid").LinkTarget, "first", "sleep\0300\0",
        }));
        Assert.That(new FileInfo("/proc/self/ns/pid").LinkTarget, Is.Not.EqualTo(new FileInfo($"/proc/{pid}/ns/pid").LinkTarget));
        Assert.That(_b.Oci("delete", "-f", "ns1").ExitCode, Is.EqualTo(0));

        _b.Edit(c => c["linux"]!["namespaces"] = new JsonArray(
            new JsonObject { ["type"] = "mount", ["path"] = "/proc/self/ns/mnt" }));
        r = _b.Oci("run", "-b", _b.Bundle, "ns3");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun-oci: joining an existing mount namespace (/proc/self/ns/mnt) is not supported"));
    }

    [Test]
    public void ExecRunsAProcessInTheRunningContainer()
    {
        _b.Args("sleep", "300");
        _b.Edit(c => c["hostname"] = "execbox");
        Assert.That(_b.OciTo(Output, "run", "-d", "-b", _b.Bundle, "x1").ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        int pid = (int)_b.State("x1")["pid"]!;

        // A command with runc's flags: in the container's namespaces and cgroup, as the given user, its status returned.
        var r = _b.Oci("exec", "--cwd", "/tmp", "--env", "FOO=bar", "--user", "1000:1001", "x1",
            "sh", "-c", "hostname; pwd; echo $FOO; id -u; id -g; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; exit 3");
        Assert.That(r.ExitCode, Is.EqualTo(3), r.ToString());
        Assert.That(r.Stdout.Split('\n'), Is.EqualTo(new[]
        {
            "execbox", "/tmp", "bar", "1000", "1001",
            new FileInfo($"/proc/{pid}/ns/pid").LinkTarget, new FileInfo($"/proc/{pid}/ns/mnt").LinkTarget, "",
        }));

        // --process (a process.json) and --detach with --pid-file: the process runs in the container's cgroup.
        var processJson = Path.Combine(_b.Dir, "process.json");
        File.WriteAllText(processJson, """{"terminal":false,"user":{"uid":0,"gid":0},"args":["sleep","301"],"env":["PATH=/bin"],"cwd":"/"}""");
        var pidFile = Path.Combine(_b.Dir, "exec.pid");
        r = _b.OciTo(Output, "exec", "--process", processJson, "--detach", "--pid-file", pidFile, "x1");
        Assert.That(r.ExitCode, Is.EqualTo(0), File.ReadAllText(Output));
        int execPid = int.Parse(File.ReadAllText(pidFile));
        Assert.That(File.ReadAllText($"/proc/{execPid}/cmdline"), Is.EqualTo("sleep\0301\0"));
        Assert.That(File.ReadAllText($"/proc/{execPid}/cgroup"), Does.Contain($"/{Incrun.CgroupParent}/x1"));
        Assert.That(JsonNode.Parse(_b.Oci("ps", "--format", "json", "x1").Stdout)!.AsArray().Select(p => (int)p!),
            Does.Contain(execPid).And.Contain(pid));

        // Not in a stopped container: one line, status 1.
        Assert.That(_b.Oci("kill", "--all", "x1", "KILL").ExitCode, Is.EqualTo(0));
        OciBundle.WaitFor(() => (string?)_b.State("x1")["status"] == "stopped", "status stopped");
        r = _b.Oci("exec", "x1", "true");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun-oci: cannot exec in a stopped container"));
        Assert.That(_b.Oci("delete", "x1").ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void PersonalityDomainIsApplied()
    {
        _b.Edit(c => c["linux"]!["personality"] = new JsonObject { ["domain"] = "LINUX32" });
        _b.Args("sh", "-c", "uname -m; cat /proc/self/personality");
        var r = _b.Oci("run", "-b", _b.Bundle, "p32");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("i686\n00000008\n"), "LINUX32: uname reports i686, as under linux32(1)");

        _b.Edit(c => c["linux"]!["personality"] = new JsonObject { ["domain"] = "LINUX" });
        r = _b.Oci("run", "-b", _b.Bundle, "p64");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("x86_64\n00000000\n"));
    }

    /// <summary>A time namespace with linux.timeOffsets: the container's monotonic and boot clocks are
    /// shifted (its /proc/uptime is the host's plus a day); exec'd processes join the namespace too.</summary>
    [Test]
    public void TimeNamespaceShiftsTheContainersClocks()
    {
        _b.Args("sh", "-c", "busybox cut -d. -f1 /proc/uptime; busybox readlink /proc/self/ns/time; sleep 30");
        _b.Edit(c =>
        {
            c["linux"]!["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "time" });
            c["linux"]!["timeOffsets"] = new JsonObject
            {
                ["boottime"] = new JsonObject { ["secs"] = 86400, ["nanosecs"] = 0 },
                ["monotonic"] = new JsonObject { ["secs"] = 86400, ["nanosecs"] = 0 },
            };
        });
        var r = _b.OciTo(Output, "run", "-d", "-b", _b.Bundle, "tns");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        try
        {
            OciBundle.WaitFor(() => File.Exists(Output) && File.ReadAllText(Output).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 2, "the container's output");
            var lines = File.ReadAllText(Output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            long host = long.Parse(File.ReadAllText("/proc/uptime").Split('.')[0]);
            Assert.That(long.Parse(lines[0]), Is.InRange(host + 86400 - 30, host + 86400 + 5), "boottime shifted by a day");
            Assert.That(lines[1], Is.Not.EqualTo(new FileInfo("/proc/self/ns/time").LinkTarget), "a time namespace of its own");
            var e = _b.Oci("exec", "tns", "busybox", "readlink", "/proc/self/ns/time");
            Assert.That(e.ExitCode, Is.EqualTo(0), e.ToString());
            Assert.That(e.Stdout.Trim(), Is.EqualTo(lines[1]), "exec joins it");
        }
        finally { _b.Oci("delete", "--force", "tns"); }
    }

    /// <summary>Spec fields incrun cannot honour fail create in one line (never silently ignored) and leave nothing.</summary>
    [TestCase("{\"timeOffsets\": {\"monotonic\": {\"secs\": 3600, \"nanosecs\": 0}}}", "linux.timeOffsets needs a new time namespace in linux.namespaces")]
    [TestCase("{\"personality\": {\"domain\": \"LINUX64\"}}", "linux.personality: unknown domain \"LINUX64\" (LINUX or LINUX32)")]
    [TestCase("{\"personality\": {\"domain\": \"LINUX\", \"flags\": [\"ADDR_NO_RANDOMIZE\"]}}", "linux.personality.flags (ADDR_NO_RANDOMIZE) are not supported")]
    public void UnsupportedLinuxFieldsAreRefusedInOneLine(string linux, string error)
    {
        _b.Edit(c =>
        {
            foreach (var (k, v) in JsonNode.Parse(linux)!.AsObject().ToList()) c["linux"]![k] = v!.DeepClone();
        });
        var r = _b.Oci("create", "-b", _b.Bundle, "unsup");
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Stderr, Is.EqualTo($"incrun-oci: {_b.ConfigPath}: {error}\n"));
        Assert.That(Directory.Exists(Path.Combine(_b.Root, "unsup")), Is.False);
    }

    [Test]
    public void FeaturesListOnlyWhatIsSupported()
    {
        var r = _b.Oci("features");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var f = JsonNode.Parse(r.Stdout)!;
        Assert.That((string?)f["ociVersionMax"], Is.EqualTo("1.2.0"));
        Assert.That(f["hooks"]!.AsArray().Select(h => (string?)h), Does.Contain("createContainer"));
        Assert.That(f["linux"]!["namespaces"]!.AsArray().Select(h => (string?)h), Is.EquivalentTo(new[] { "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts" }));
        Assert.That(f["mountOptions"]!.AsArray().Select(h => (string?)h), Does.Contain("rbind"));
        Assert.That(f["linux"]!["capabilities"]!.AsArray().Select(h => (string?)h), Does.Contain("CAP_SYS_ADMIN"));
        Assert.That((bool)f["linux"]!["mountExtensions"]!["idmap"]!["enabled"]!, Is.False, "no idmapped mounts");

        // seccomp: what our own BPF compiler handles, as far as this kernel offers it
        var s = f["linux"]!["seccomp"]!;
        Assert.That((bool)s["enabled"]!, Is.True);
        static List<string> List(JsonNode n) => [.. n.AsArray().Select(x => (string)x!)];
        var actions = List(s["actions"]!);
        Assert.That(actions, Is.SupersetOf(new[] { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP" }));
        Assert.That(actions, Does.Not.Contain("SCMP_ACT_NOTIFY"), "no seccomp agent (listenerPath)");
        Assert.That(List(s["operators"]!), Is.EquivalentTo(new[] { "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE" }));
        Assert.That(List(s["archs"]!), Is.EqualTo(new[] { "SCMP_ARCH_X86_64" }), "the program checks x86_64 calls only");
        var known = List(s["knownFlags"]!);
        var supported = List(s["supportedFlags"]!);
        Assert.That(supported, Is.SubsetOf(known).And.Contains("SECCOMP_FILTER_FLAG_TSYNC"));

        // Everything listed is accepted together and loads into this kernel: one rule per action and per
        // operator (on calls the command never makes), every supported flag, every arch; mkdir gets EPERM.
        var rules = new JsonArray(new JsonObject { ["names"] = new JsonArray("mkdir"), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = 1 });
        string[] unused = ["acct", "swapon", "swapoff", "syslog", "vhangup", "pivot_root", "iopl", "ioperm", "kexec_load", "init_module"];
        int u = 0;
        foreach (var a in actions.Where(a => a != "SCMP_ACT_ALLOW"))
            rules.Add(new JsonObject { ["names"] = new JsonArray(unused[u++]), ["action"] = a });
        foreach (var op in List(s["operators"]!))
            rules.Add(new JsonObject
            {
                ["names"] = new JsonArray("delete_module"), ["action"] = "SCMP_ACT_ERRNO",
                ["args"] = new JsonArray(new JsonObject { ["index"] = 1, ["value"] = 7, ["valueTwo"] = 7, ["op"] = op }),
            });
        _b.Edit(c => c["linux"]!["seccomp"] = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW", ["architectures"] = new JsonArray([.. List(s["archs"]!).Select(x => (JsonNode)x)]),
            ["flags"] = new JsonArray([.. supported.Select(x => (JsonNode)x)]), ["syscalls"] = rules,
        });
        _b.Args("sh", "-c", "grep -E '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>&1 || true");
        r = _b.Oci("run", "-b", _b.Bundle, "sc");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("Seccomp:\t2\nmkdir: can't create directory '/tmp/d': Operation not permitted\n"), r.ToString());
    }
}
