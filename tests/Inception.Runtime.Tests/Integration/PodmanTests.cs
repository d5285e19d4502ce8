using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>
/// podman (with conmon) driving incrun-oci as its OCI runtime, as `podman --runtime incrun-oci` would:
/// podman's storage and run root live in a temp dir of the fixture's own (vfs storage: no host mounts),
/// the image is a busybox rootfs tar imported with `podman import`. The runtime keeps its default state
/// root, /run/incrun-oci: podman's cleanup process (run by conmon when a container exits) calls the
/// runtime without podman's --runtime-flag options, and conmon passes no environment on.
/// </summary>
[NonParallelizable]
public sealed class PodmanTests : ContainerTest
{
    OciBundle _b = null!;
    string[] _global = [];
    // podman asks for 1048576 open files and processes by default; this host's hard limits are lower
    // and, as root without CAP_SYS_RESOURCE, cannot be raised (runc fails the same way).
    static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none"];

    [OneTimeSetUp]
    public void Import()
    {
        if (!Incrun.IsRoot) return;
        Assert.That(File.Exists("/usr/bin/podman") && File.Exists("/usr/bin/conmon"), Is.True,
            "podman and conmon are required (./build.sh installs them)");
        _b = new OciBundle();
        var d = _b.Dir;
        _global = ["--root", $"{d}/storage", "--runroot", $"{d}/runroot", "--storage-driver", "vfs", "--runtime", _b.Link,
            "--runtime-flag", "log-format=json", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
        var tar = Path.Combine(d, "rootfs.tar");
        var r = Incrun.Exec(Incrun.StartInfo(["-C", _b.Rootfs, "-cf", tar, "."], "tar"), null, TimeSpan.FromSeconds(60));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        r = Podman("import", tar, "localhost/incrun-bb:latest");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
    }

    [OneTimeTearDown]
    public void RemoveStorage()
    {
        if (_b is null) return;
        Podman("rm", "-af", "-t", "0");
        Podman("rmi", "-af");
        _b.Dispose();
    }

    [TearDown]
    public void NothingRunsAndTheRuntimeRootIsEmpty()
    {
        if (!Incrun.IsRoot) return;
        var ps = Podman("ps", "-aq", "--no-trunc");
        _ids.AddRange(ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Podman("rm", "-af", "-t", "0");
        // conmon's cleanup command deletes the runtime's container just after the container exits
        bool Left(string id) => Directory.Exists(Path.Combine(RuntimeRoot, id));
        for (int i = 0; i < 200 && _ids.Any(Left); i++) Thread.Sleep(25);
        var left = _ids.Where(Left).ToList();
        _ids.Clear();
        Assert.That(ps.Stdout.Trim(), Is.Empty, "podman containers left");
        Assert.That(left, Is.Empty, "incrun-oci state left");
    }

    const string RuntimeRoot = "/run/incrun-oci";
    readonly List<string> _ids = [];

    RunResult Podman(params string[] args) =>
        Incrun.Exec(Incrun.StartInfo([.. _global, .. args], "/usr/bin/podman"), null, TimeSpan.FromSeconds(120));

    /// <summary>incrun-oci state of a container podman made.</summary>
    System.Text.Json.Nodes.JsonObject State(string id)
    {
        var r = Incrun.Exec(Incrun.StartInfo(["--root", RuntimeRoot, "state", id], _b.Link), null, TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return System.Text.Json.Nodes.JsonNode.Parse(r.Stdout)!.AsObject();
    }

    RunResult PodmanRun(params string[] args)
    {
        var cidFile = Path.Combine(_b.Dir, $"cid-{Guid.NewGuid():N}");
        var r = Podman(["run", "--rm", "--cidfile", cidFile, .. Limits, .. args]);
        if (File.Exists(cidFile)) _ids.Add(File.ReadAllText(cidFile).Trim());
        return r;
    }

    [Test]
    public void RunEchoAndExitCode()
    {
        var r = PodmanRun("localhost/incrun-bb", "echo", "hi");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("hi\n"));
        r = PodmanRun("localhost/incrun-bb", "sh", "-c", "exit 42");
        Assert.That(r.ExitCode, Is.EqualTo(42), r.ToString());
    }

    [Test]
    public void EnvWorkdirHostnameAndVolume()
    {
        var vol = Path.Combine(_b.Dir, "vol");
        Directory.CreateDirectory(vol);
        File.WriteAllText(Path.Combine(vol, "f"), "on-the-host\n");
        var r = PodmanRun("-e", "FOO=bar", "-w", "/etc", "--hostname", "podbox", "-v", $"{vol}:/v",
            "localhost/incrun-bb", "sh", "-c", "echo $FOO $(pwd) $(hostname) $(cat /v/f); echo written > /v/g");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("bar /etc podbox on-the-host\n"));
        Assert.That(File.ReadAllText(Path.Combine(vol, "g")), Is.EqualTo("written\n"));
    }

    [Test]
    public void MemoryLimitOomKillIs137()
    {
        var r = PodmanRun("--memory", "20m", "localhost/incrun-bb", "sh", "-c", "x=a; while true; do x=$x$x; done");
        Assert.That(r.ExitCode, Is.EqualTo(137), r.ToString());
    }

    [Test]
    public void PidsLimitDetachedLogsAndStop()
    {
        var r = Podman(["run", "-d", .. Limits, "--pids-limit", "5", "localhost/incrun-bb",
            "sh", "-c", "echo started; trap 'echo bye; exit 3' TERM; while true; do sleep 0.1; done"]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var id = r.Stdout.Trim();
        _ids.Add(id);
        var state = State(id);
        Assert.That((string?)state["status"], Is.EqualTo("running"));
        var pidsDir = Directory.Exists("/sys/fs/cgroup/pids") ? "/sys/fs/cgroup/pids" : "/sys/fs/cgroup";
        var cgroup = Path.Combine(pidsDir, "libpod_parent", $"libpod-{id}");
        Assert.That(File.ReadAllText(Path.Combine(cgroup, "pids.max")).Trim(), Is.EqualTo("5"));
        Assert.That(File.ReadAllText(Path.Combine(cgroup, "cgroup.procs")), Does.Contain(((int)state["pid"]!).ToString()));

        OciBundle.WaitFor(() => Podman("logs", id).Stdout.Contains("started"), "the container's output in podman logs");
        r = Podman("stop", "-t", "10", id);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(Podman("logs", id).Stdout, Is.EqualTo("started\nbye\n"));
        Assert.That(Podman("inspect", "-f", "{{.State.ExitCode}}", id).Stdout.Trim(), Is.EqualTo("3"));
        Assert.That(Podman("rm", id).ExitCode, Is.EqualTo(0));
        Assert.That(Directory.Exists(cgroup), Is.False, "the container's cgroup goes with it");
    }

    [Test]
    public void TtyThroughConmonsConsoleSocket()
    {
        var r = PodmanRun("-t", "localhost/incrun-bb", "sh", "-c", "tty; echo TTY-OK");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"/dev/pts/\d+\r?\nTTY-OK"));
    }
}
