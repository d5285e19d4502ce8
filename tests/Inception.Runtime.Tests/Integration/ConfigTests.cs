using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

public sealed class ConfigTests : ContainerTest
{
    string _tmp = "";

    [SetUp]
    public void MakeTemp() => _tmp = Directory.CreateTempSubdirectory("incrun-cfg-").FullName;

    [TearDown]
    public void RemoveTemp() => Directory.Delete(_tmp, recursive: true);

    [Test]
    public void EnvironmentFromImageFlagsAndFiles()
    {
        var envFile = Path.Combine(_tmp, "env");
        File.WriteAllText(envFile, "# comment\nFROM_FILE=1\nOVERRIDE=file\n");
        var psi = Incrun.StartInfo(["run", "--rm", "--env-file", envFile, "-e", "OVERRIDE=flag", "-e", "FROM_HOST", "-e", "UNSET_ON_HOST",
            "busybox", "env"]);
        psi.Environment["FROM_HOST"] = "hostvalue";
        psi.Environment.Remove("UNSET_ON_HOST");
        var r = Incrun.Exec(psi, null, TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var env = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(env, Does.Contain("FROM_FILE=1"));
        Assert.That(env, Does.Contain("OVERRIDE=flag"));
        Assert.That(env, Does.Contain("FROM_HOST=hostvalue"));
        Assert.That(env.Any(e => e.StartsWith("UNSET_ON_HOST")), Is.False);
        Assert.That(env, Does.Contain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        Assert.That(env, Does.Contain("HOME=/root"));
        Assert.That(env.Any(e => e.StartsWith("HOSTNAME=")), Is.True);
        Assert.That(env.Any(e => e.StartsWith("_INCRUN")), Is.False, "incrun's own variables leaked into the container");
    }

    [Test]
    public void WorkdirIsCreatedAndUsed()
    {
        var r = Run("run", "--rm", "-w", "/srv/app/data", "busybox", "pwd");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("/srv/app/data\n"));
    }

    [TestCase("nobody", "65534 65534 nobody")]
    [TestCase("1000", "1000 1000 incrun")]
    [TestCase("incrun:staff", "1000 50 incrun")]
    [TestCase("4242:4343", "4242 4343 4242")] // busybox id prints the number when there is no name
    public void UserIsResolvedInTheImage(string user, string expected)
    {
        var r = Run("run", "--rm", "-u", user, "busybox", "sh", "-c", "echo $(id -u) $(id -g) $(id -un 2>/dev/null)");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout.Trim(), Is.EqualTo(expected.Trim()));
    }

    [Test]
    public void SupplementaryGroupsComeFromEtcGroup()
    {
        var r = Run("run", "--rm", "-u", "incrun", "busybox", "cat", "/proc/self/status");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var groups = r.Stdout.Split('\n').First(l => l.StartsWith("Groups:"));
        Assert.That(groups.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries).Skip(1), Does.Contain("50"));
        Assert.That(r.Stdout, Does.Match(@"Uid:\s+1000\s+1000\s+1000\s+1000"));
    }

    [Test]
    public void UnknownUserIsRejected()
    {
        var r = Run("run", "--rm", "-u", "nosuch", "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(125));
        Assert.That(r.Stderr.Trim(), Is.EqualTo("incrun: unable to find user nosuch: no matching entries in passwd file"));
    }

    [Test]
    public void BindMountReadWrite()
    {
        File.WriteAllText(Path.Combine(_tmp, "in.txt"), "host-data");
        var r = Run("run", "--rm", "-v", $"{_tmp}:/data", "busybox", "sh", "-c", "cat /data/in.txt; echo container-data > /data/out.txt");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Is.EqualTo("host-data"));
        Assert.That(File.ReadAllText(Path.Combine(_tmp, "out.txt")), Is.EqualTo("container-data\n"));
    }

    [Test]
    public void BindMountReadOnly()
    {
        var r = Run("run", "--rm", "-v", $"{_tmp}:/data:ro", "busybox", "sh", "-c", "touch /data/x");
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Stderr, Does.Contain("Read-only file system"));
        Assert.That(File.Exists(Path.Combine(_tmp, "x")), Is.False);
    }

    [Test]
    public void BindMountOfAFile()
    {
        var file = Path.Combine(_tmp, "conf");
        File.WriteAllText(file, "setting=1\n");
        var r = Run("run", "--rm", "-v", $"{file}:/etc/app.conf:ro", "busybox", "cat", "/etc/app.conf");
        Assert.That(r.Stdout, Is.EqualTo("setting=1\n"), r.ToString());
    }

    [Test]
    public void ReadOnlyRoot()
    {
        var r = Run("run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /x; echo root=$?; touch /dev/shm/x; echo shm=$?");
        Assert.That(r.Stdout, Does.Contain("root=1").And.Contain("shm=0"), r.ToString());
        Assert.That(r.Stderr, Does.Contain("Read-only file system"));
    }

    [Test]
    public void WritesGoToTheContainersOwnLayer()
    {
        var r1 = Run("run", "--rm", "busybox", "sh", "-c", "echo changed > /etc/motd; rm /bin/vi; cat /etc/motd");
        Assert.That(r1.Stdout, Is.EqualTo("changed\n"), r1.ToString());
        var r2 = Run("run", "--rm", "busybox", "sh", "-c", "test -e /etc/motd; echo motd=$?; test -e /bin/vi; echo vi=$?");
        Assert.That(r2.Stdout, Is.EqualTo("motd=1\nvi=0\n"), "the image changed: " + r2);
    }

    [Test]
    public void EntrypointAndCmd()
    {
        var r = Run("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b");
        Assert.That(r.Stdout, Is.EqualTo("a b\n"), r.ToString());
        var sh = Incrun.RunWith("echo from-default-cmd\n", TimeSpan.FromSeconds(30), "run", "--rm", "-i", "busybox");
        Assert.That(sh.Stdout, Is.EqualTo("from-default-cmd\n"), "the image's CMD [\"sh\"] runs: " + sh);
    }

    [Test]
    public void ExplainNarratesTheKernelSteps()
    {
        var r = Run("--explain", "run", "--rm", "busybox", "true");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stderr, Does.Contain("clone(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET|CLONE_NEWCGROUP|SIGCHLD) = ok"));
        Assert.That(r.Stderr, Does.Contain("mount(\"overlay\""));
        Assert.That(r.Stderr, Does.Contain("pivot_root(\".\", \".\") = ok"));
        Assert.That(r.Stderr, Does.Contain("execve(\"/bin/true\""));
        Assert.That(r.Stderr, Does.Contain("a fresh /proc").IgnoreCase.Or.Contain("Mount a fresh /proc"));
    }
}
