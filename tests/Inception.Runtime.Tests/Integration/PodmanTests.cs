using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>
/// podman (with conmon) driving incrun-oci as its OCI runtime, as `podman --runtime incrun-oci` would:
/// podman's storage, run root and the runtime's state root all live in a temp dir of the fixture's own
/// (vfs storage: no host mounts), the image is a busybox rootfs tar imported with `podman import`.
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
        // The runtime's state root through the environment: podman's cleanup process (run by conmon when the
        // container exits) calls the runtime without podman's --runtime-flag options.
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
        var ps = Podman("ps", "-aq");
        // conmon's cleanup command deletes the runtime's container just after the container exits
        for (int i = 0; i < 200 && Directory.Exists(_b.Root) && Directory.GetFileSystemEntries(_b.Root).Length > 0; i++) Thread.Sleep(25);
        var left = Directory.Exists(_b.Root) ? Directory.GetFileSystemEntries(_b.Root) : [];
        Podman("rm", "-af", "-t", "0");
        Assert.That(ps.Stdout.Trim(), Is.Empty, "podman containers left");
        Assert.That(left, Is.Empty, "incrun-oci state left");
    }

    RunResult Podman(params string[] args)
    {
        var psi = Incrun.StartInfo([.. _global, .. args], "/usr/bin/podman");
        psi.Environment["INCRUN_OCI_ROOT"] = _b.Root;
        return Incrun.Exec(psi, null, TimeSpan.FromSeconds(120));
    }

    RunResult PodmanRun(params string[] args) => Podman(["run", "--rm", .. Limits, .. args]);

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
        var state = _b.State(id);
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
