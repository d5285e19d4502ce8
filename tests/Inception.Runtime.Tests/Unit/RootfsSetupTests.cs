using Inception.Runtime.Errors;
using Inception.Runtime.Oci;
using Inception.Runtime.Rootfs;
using Inception.Runtime.Run;
using Inception.Runtime.Syscalls;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>The order and arguments of the kernel steps that build a root filesystem, against the
/// recording double. Prepare() opens the real root directory (O_PATH), so the root is a temp dir.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class RootfsSetupTests : TempDirTest
{
    string Root => Path.Combine(Dir, "rootfs");

    [SetUp]
    public void CreateRoot() => Directory.CreateDirectory(Root);

    Spec MinimalSpec(params Mount[] mounts) => new() { Root = new Root { Path = Root }, Mounts = [.. mounts] };

    (RecordingSyscalls Sys, RootfsSetup Setup) Prepare(Spec spec, RecordingSyscalls? sys = null)
    {
        sys ??= new RecordingSyscalls();
        var setup = new RootfsSetup(sys, spec, Dir);
        setup.Prepare();
        return (sys, setup);
    }

    string[] Pivot => [$"chdir({Root})", "pivot_root(., .)", "umount2(., MNT_DETACH)", "chdir(/)"];

    [Test]
    public void DockerLikeSpecMountsEverythingInOrderThenPivots()
    {
        var paths = new ContainerPaths(Root, MakeDir("upper"), MakeDir("work"), MakeFile("hostname", "c\n"),
            MakeFile("hosts", "127.0.0.1 localhost\n"), MakeFile("resolv.conf", "nameserver 1.1.1.1\n"));
        var spec = SpecGenerator.Generate(new RunOptions { Image = "busybox", Command = ["sh"] }, new ImageDefaults(),
            ["/layers/1", "/layers/2"], "0123456789abcdef", paths, _ => null, null, _ => null,
            new Cgroups.CgroupLayout(null, new Dictionary<string, string>()));

        var (sys, _) = Prepare(spec);

        string[] expected =
        [
            "mount( → /, , MS_REC|MS_SLAVE, )",
            $"mount(overlay → {Root}, overlay, 0, lowerdir=/layers/2:/layers/1,upperdir={paths.Upper},workdir={paths.Work})",
            "mkdir(/proc, 0755)", "mount(proc → /proc, proc, MS_NOSUID|MS_NODEV|MS_NOEXEC, )",
            "mkdir(/dev, 0755)", "mount(tmpfs → /dev, tmpfs, MS_NOSUID|MS_STRICTATIME, mode=755,size=65536k)",
            "mkdir(/dev/pts, 0755)", "mount(devpts → /dev/pts, devpts, MS_NOSUID|MS_NOEXEC, newinstance,ptmxmode=0666,mode=0620,gid=5)",
            "mkdir(/sys, 0755)", "mount(sysfs → /sys, sysfs, MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC, )",
            "mkdir(/dev/mqueue, 0755)", "mount(mqueue → /dev/mqueue, mqueue, MS_NOSUID|MS_NODEV|MS_NOEXEC, )",
            "mkdir(/dev/shm, 0755)", "mount(shm → /dev/shm, tmpfs, MS_NOSUID|MS_NODEV|MS_NOEXEC, mode=1777,size=65536k)",
            "mkdir(/etc, 0755)", "create(/etc/resolv.conf, 0644)",
            $"mount({paths.ResolvConfFile} → /etc/resolv.conf, , MS_BIND|MS_REC, )", "mount( → /etc/resolv.conf, , MS_REC|MS_PRIVATE, )",
            "create(/etc/hostname, 0644)",
            $"mount({paths.HostnameFile} → /etc/hostname, , MS_BIND|MS_REC, )", "mount( → /etc/hostname, , MS_REC|MS_PRIVATE, )",
            "create(/etc/hosts, 0644)",
            $"mount({paths.HostsFile} → /etc/hosts, , MS_BIND|MS_REC, )", "mount( → /etc/hosts, , MS_REC|MS_PRIVATE, )",
            "mknod(/dev/null, c, 0666, 1:3)", "mknod(/dev/zero, c, 0666, 1:5)", "mknod(/dev/full, c, 0666, 1:7)",
            "mknod(/dev/random, c, 0666, 1:8)", "mknod(/dev/urandom, c, 0666, 1:9)", "mknod(/dev/tty, c, 0666, 5:0)",
            "symlink(/dev/fd → /proc/self/fd)", "symlink(/dev/stdin → /proc/self/fd/0)", "symlink(/dev/stdout → /proc/self/fd/1)",
            "symlink(/dev/stderr → /proc/self/fd/2)", "symlink(/dev/ptmx → pts/ptmx)", "symlink(/dev/core → /proc/kcore)",
            .. Pivot,
        ];
        Assert.That(sys.Steps, Is.EqualTo(expected));
        Assert.That(sys.OpenFdCount, Is.Zero, "every fd opened inside the root is closed again");
    }

    [Test]
    public void WithoutOverlayAnnotationsTheRootIsBoundOntoItself()
    {
        var (sys, _) = Prepare(MinimalSpec());
        string[] expected = ["mount( → /, , MS_REC|MS_SLAVE, )", $"mount({Root} → {Root}, , MS_BIND|MS_REC, )", .. Pivot];
        Assert.That(sys.Steps, Is.EqualTo(expected));
    }

    [TestCase("private", "MS_PRIVATE")]
    [TestCase("rshared", "MS_REC|MS_SHARED")]
    [TestCase("rprivate", "MS_REC|MS_PRIVATE")]
    [TestCase("slave", "MS_SLAVE")]
    public void RootfsPropagationComesFromTheSpec(string word, string flags)
    {
        var spec = MinimalSpec();
        spec.Linux = new Linux { RootfsPropagation = word };
        var (sys, _) = Prepare(spec);
        Assert.That(sys.Steps[0], Is.EqualTo($"mount( → /, , {flags}, )"));
    }

    [Test]
    public void RelativeRootPathResolvesAgainstTheBundle()
    {
        var spec = MinimalSpec();
        spec.Root!.Path = "rootfs";
        var (sys, setup) = Prepare(spec);
        Assert.That(setup.RootPath, Is.EqualTo(Root));
        Assert.That(sys.Steps[1], Is.EqualTo($"mount({Root} → {Root}, , MS_BIND|MS_REC, )"));
    }

    [Test]
    public void ReadOnlyBindIsBoundThenRemountedReadOnly()
    {
        var host = MakeDir("data");
        var (sys, _) = Prepare(MinimalSpec(new Mount { Destination = "/mnt/data", Type = "bind", Source = host, Options = ["bind", "ro"] }));
        Assert.That(sys.Steps.Skip(2).Take(4), Is.EqualTo(new[]
        {
            "mkdir(/mnt, 0755)", "mkdir(/mnt/data, 0755)",
            $"mount({host} → /mnt/data, , MS_BIND, )",
            "mount( → /mnt/data, , MS_RDONLY|MS_REMOUNT|MS_BIND, )",
        }));
        Assert.That(sys.Steps.Skip(6), Is.EqualTo(Pivot));
    }

    [Test]
    public void ExistingMountPointsAreNotCreatedAgainAndRelativeSourcesUseTheBundle()
    {
        MakeFile("conf/app.conf", "x=1");
        var sys = new RecordingSyscalls().WithExisting("/etc/app.conf");
        Prepare(MinimalSpec(new Mount { Destination = "/etc/app.conf", Type = "bind", Source = "conf/app.conf", Options = ["rbind"] }), sys);
        Assert.That(sys.Steps[2], Is.EqualTo($"mount({Path.Combine(Dir, "conf/app.conf")} → /etc/app.conf, , MS_BIND|MS_REC, )"));
        Assert.That(sys.Steps.Any(s => s.StartsWith("mkdir") || s.StartsWith("create")), Is.False);
    }

    [Test]
    public void DeviceNodesOnlyWhenDevIsATmpfs()
    {
        var (sys, _) = Prepare(MinimalSpec(new Mount { Destination = "/dev", Type = "bind", Source = MakeDir("dev"), Options = ["rbind"] }));
        Assert.That(sys.CallCount(nameof(ISyscalls.MknodAt)), Is.Zero);
        Assert.That(sys.CallCount(nameof(ISyscalls.SymlinkAt)), Is.Zero);
    }

    [Test]
    public void ExistingDeviceNodesAndLinksAreTolerated()
    {
        var sys = new RecordingSyscalls().WithExisting("/dev/null", "/dev/fd");
        Prepare(MinimalSpec(new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs" }), sys);
        Assert.That(sys.CallCount(nameof(ISyscalls.MknodAt)), Is.EqualTo(6));
        Assert.That(sys.CallCount(nameof(ISyscalls.SymlinkAt)), Is.EqualTo(6));
        Assert.That(sys.Steps.TakeLast(4), Is.EqualTo(Pivot));
    }

    [Test]
    public void RelativeMountDestinationIsRejectedBeforePivot()
    {
        var sys = new RecordingSyscalls();
        var e = Assert.Throws<RuntimeError>(() => Prepare(MinimalSpec(new Mount { Destination = "data", Type = "tmpfs" }), sys));
        Assert.That(e!.Message, Is.EqualTo("mount destination \"data\" is not an absolute path"));
        Assert.That(e.ExitCode, Is.EqualTo(125));
        Assert.That(sys.CallCount(nameof(ISyscalls.PivotRoot)), Is.Zero);
    }

    [Test]
    public void MissingBindSourceIsENOENT()
    {
        var missing = Path.Combine(Dir, "nope");
        var e = Assert.Throws<RuntimeError>(() => Prepare(MinimalSpec(new Mount { Destination = "/x", Type = "bind", Source = missing, Options = ["bind"] })));
        Assert.That(e!.Message, Is.EqualTo($"mount({missing}): No such file or directory"));
        Assert.That(e.Errno, Is.EqualTo(2));
    }

    [Test]
    public void PivotRootFailureNamesTheRootAndErrno()
    {
        var sys = new RecordingSyscalls().FailNth(nameof(ISyscalls.PivotRoot), 1, 22);
        var e = Assert.Throws<RuntimeError>(() => Prepare(MinimalSpec(), sys));
        Assert.That(e!.Message, Is.EqualTo($"pivot_root({Root}): Invalid argument"));
        Assert.That(e.Errno, Is.EqualTo(22));
        Assert.That(e.Step, Is.EqualTo("pivot_root"));
        Assert.That(sys.CallCount(nameof(ISyscalls.Umount)), Is.Zero, "nothing runs after the failed step");
    }

    [Test]
    public void MountFailureOnASpecMountNamesTheContainerPath()
    {
        // Mount #1 is propagation, MountAt #1 is /proc, #2 is /sys.
        var sys = new RecordingSyscalls().FailNth(nameof(ISyscalls.MountAt), 2, 1 /* EPERM */);
        var e = Assert.Throws<RuntimeError>(() => Prepare(MinimalSpec(
            new Mount { Destination = "/proc", Type = "proc", Source = "proc" },
            new Mount { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["ro"] }), sys));
        Assert.That(e!.Message, Is.EqualTo("mount(/sys): Operation not permitted"));
        Assert.That(sys.OpenFdCount, Is.Zero, "the target fd is closed on failure too");
    }

    [Test]
    public void MkdirFailureIsReported()
    {
        var sys = new RecordingSyscalls().FailNth(nameof(ISyscalls.MkdirAt), 1, 13 /* EACCES */);
        var e = Assert.Throws<RuntimeError>(() => Prepare(MinimalSpec(new Mount { Destination = "/proc", Type = "proc" }), sys));
        Assert.That(e!.Message, Is.EqualTo("mkdir(/proc): Permission denied"));
        Assert.That(e.Errno, Is.EqualTo(13));
    }

    [Test]
    public void FinishMasksReadonlyPathsAndRoot()
    {
        var maskedFile = MakeFile("proc/kcore", "secret");
        var maskedDir = MakeDir("proc/acpi");
        var roDir = MakeDir("proc/sys");
        var spec = MinimalSpec();
        spec.Root!.Readonly = true;
        spec.Linux = new Linux
        {
            MaskedPaths = [maskedFile, maskedDir, Path.Combine(Dir, "absent")],
            ReadonlyPaths = [roDir, Path.Combine(Dir, "absent-too")],
        };
        var sys = new RecordingSyscalls();
        new RootfsSetup(sys, spec, Dir).Finish();
        Assert.That(sys.Steps, Is.EqualTo(new[]
        {
            $"mount(/dev/null → {maskedFile}, , MS_BIND, )",
            $"mount(tmpfs → {maskedDir}, tmpfs, MS_RDONLY, )",
            $"mount({roDir} → {roDir}, , MS_BIND|MS_REC, )",
            $"mount( → {roDir}, , MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND, )",
            "mount( → /, , MS_RDONLY|MS_REMOUNT|MS_BIND, )",
        }));
    }

    [Test]
    public void FinishWithoutReadonlyRootLeavesRootAlone()
    {
        var sys = new RecordingSyscalls();
        new RootfsSetup(sys, MinimalSpec(), Dir).Finish();
        Assert.That(sys.Calls, Is.Empty);
    }

    [Test]
    public void FinishFailureOnMaskIsReported()
    {
        var file = MakeFile("keys");
        var spec = MinimalSpec();
        spec.Linux = new Linux { MaskedPaths = [file] };
        var sys = new RecordingSyscalls().FailNth(nameof(ISyscalls.Mount), 1, 16 /* EBUSY */);
        var e = Assert.Throws<RuntimeError>(() => new RootfsSetup(sys, spec, Dir).Finish());
        Assert.That(e!.Message, Is.EqualTo($"mask({file}): Device or resource busy"));
    }
}
