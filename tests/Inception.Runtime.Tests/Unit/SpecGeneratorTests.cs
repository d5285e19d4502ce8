using System.Text;
using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;
using Inception.Runtime.Run;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>Image config + run flags → OCI spec, docker's defaults and messages.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SpecGeneratorTests : TempDirTest
{
    const string Id = "0123456789abcdef0123";

    internal static readonly byte[] Passwd = Encoding.UTF8.GetBytes("""
        root:x:0:0:root:/root:/bin/sh
        # a comment
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        alice:x:1000:1000:Alice:/home/alice:/bin/sh
        bob:x:1001:100::/home/bob:/bin/sh
        nohome:x:1002:1002:::/bin/sh
        """);

    internal static readonly byte[] Group = Encoding.UTF8.GetBytes("""
        root:x:0:
        wheel:x:10:alice,bob
        users:x:100:bob
        audio:x:29:alice
        alice:x:1000:
        """);

    static readonly ContainerPaths Paths = new("/var/lib/incrun/containers/c/rootfs", "/var/lib/incrun/containers/c/upper",
        "/var/lib/incrun/containers/c/work", "/run/c/hostname", "/run/c/hosts", "/run/c/resolv.conf");

    static RunOptions Opts(params string[] command) => new() { Image = "busybox", Command = command };

    static Spec Gen(RunOptions o, ImageDefaults? image = null, Func<string, string?>? hostEnv = null,
        IReadOnlyList<string>? layers = null, (ushort, ushort)? console = null) =>
        SpecGenerator.Generate(o, image ?? new ImageDefaults(), layers ?? ["/layers/a"], Id, Paths,
            f => f switch { "/etc/passwd" => Passwd, "/etc/group" => Group, _ => null }, console, hostEnv ?? (_ => null), NoCgroups);

    static readonly Cgroups.CgroupLayout NoCgroups = new(null, new Dictionary<string, string>());

    static string Error(Action d) => Assert.Throws<RuntimeError>(d)!.Message;

    static readonly ImageDefaults Nginx = new()
    {
        Entrypoint = ["/docker-entrypoint.sh"], Cmd = ["nginx", "-g", "daemon off;"], Env = ["PATH=/custom/bin", "NGINX_VERSION=1.27"],
    };

    // ---- command ----

    [Test]
    public void ArgsAreEntrypointThenCmd() =>
        Assert.That(Gen(Opts(), Nginx).Process!.Args, Is.EqualTo(new[] { "/docker-entrypoint.sh", "nginx", "-g", "daemon off;" }));

    [Test]
    public void CommandReplacesImageCmdButKeepsEntrypoint() =>
        Assert.That(Gen(Opts("sh", "-c", "echo hi"), Nginx).Process!.Args, Is.EqualTo(new[] { "/docker-entrypoint.sh", "sh", "-c", "echo hi" }));

    [Test]
    public void EntrypointFlagReplacesEntrypointAndDropsImageCmd()
    {
        Assert.That(Gen(Opts() with { Entrypoint = "/bin/echo" }, Nginx).Process!.Args, Is.EqualTo(new[] { "/bin/echo" }));
        Assert.That(Gen(Opts("hi") with { Entrypoint = "/bin/echo" }, Nginx).Process!.Args, Is.EqualTo(new[] { "/bin/echo", "hi" }));
    }

    [Test]
    public void EmptyEntrypointFlagClearsIt()
    {
        Assert.That(Gen(Opts("ls", "/") with { Entrypoint = "" }, Nginx).Process!.Args, Is.EqualTo(new[] { "ls", "/" }));
        Assert.That(Error(() => Gen(Opts() with { Entrypoint = "" }, Nginx)), Is.EqualTo("No command specified"));
    }

    [Test]
    public void NoCommandAnywhereIsAnError()
    {
        var e = Assert.Throws<RuntimeError>(() => Gen(Opts()));
        Assert.That(e!.Message, Is.EqualTo("No command specified"));
        Assert.That(e.ExitCode, Is.EqualTo(125));
    }

    // ---- environment ----

    [Test]
    public void EnvMergesImageFileAndFlagsInFirstSeenOrder()
    {
        var envFile = MakeFile("env.list", "B=file\n# comment\n\n   C=file\nONLYFILE=1\n");
        var host = new Dictionary<string, string> { ["D"] = "from-host", ["A"] = "host-a" };
        var o = Opts("sh") with { EnvFiles = [envFile], Env = ["C=flag", "D", "UNSET_ON_HOST", "A"] };
        var spec = Gen(o, new ImageDefaults { Env = ["A=image", "B=image", "PATH=/img/bin"] }, k => host.GetValueOrDefault(k));
        Assert.That(spec.Process!.Env, Is.EqualTo(new[]
        {
            "A=host-a", "B=file", "PATH=/img/bin", "C=flag", "ONLYFILE=1", "D=from-host", "HOSTNAME=0123456789ab", "HOME=/root",
        }));
    }

    [Test]
    public void DefaultsArePathHostnameTermOnlyWithTtyAndHome()
    {
        Assert.That(Gen(Opts("sh")).Process!.Env, Is.EqualTo(new[] { SpecGenerator.DefaultPath, "HOSTNAME=0123456789ab", "HOME=/root" }));
        Assert.That(Gen(Opts("sh") with { Tty = true }).Process!.Env,
            Is.EqualTo(new[] { SpecGenerator.DefaultPath, "HOSTNAME=0123456789ab", "TERM=xterm", "HOME=/root" }));
    }

    [Test]
    public void UserFlagsOverrideTheDefaults()
    {
        var env = Gen(Opts("sh") with { Tty = true, Env = ["HOSTNAME=mine", "TERM=dumb", "HOME=/h", "PATH=/p"] }).Process!.Env;
        Assert.That(env, Is.EqualTo(new[] { "HOSTNAME=mine", "TERM=dumb", "HOME=/h", "PATH=/p" }));
    }

    [Test]
    public void HomeComesFromPasswd() =>
        Assert.That(Gen(Opts("sh") with { User = "alice" }).Process!.Env, Does.Contain("HOME=/home/alice"));

    [Test]
    public void EnvErrors()
    {
        Assert.That(Error(() => Gen(Opts("sh") with { Env = ["=x"] })), Is.EqualTo("invalid environment variable: =x"));
        Assert.That(Error(() => Gen(Opts("sh") with { Env = [""] })), Is.EqualTo("invalid environment variable: empty name"));
        var missing = Path.Combine(Dir, "missing.env");
        Assert.That(Error(() => Gen(Opts("sh") with { EnvFiles = [missing] })), Is.EqualTo($"open {missing}: no such file or directory"));
    }

    // ---- hostname, workdir ----

    [Test]
    public void HostnameDefaultsToShortIdAndFlagWins()
    {
        Assert.That(Gen(Opts("sh")).Hostname, Is.EqualTo("0123456789ab"));
        var spec = Gen(Opts("sh") with { Hostname = "web-1" });
        Assert.That(spec.Hostname, Is.EqualTo("web-1"));
        Assert.That(spec.Process!.Env, Does.Contain("HOSTNAME=web-1"));
    }

    [Test]
    public void Workdir()
    {
        Assert.That(Gen(Opts("sh")).Process!.Cwd, Is.EqualTo("/"));
        Assert.That(Gen(Opts("sh"), new ImageDefaults { WorkingDir = "/app" }).Process!.Cwd, Is.EqualTo("/app"));
        Assert.That(Gen(Opts("sh") with { Workdir = "/srv" }, new ImageDefaults { WorkingDir = "/app" }).Process!.Cwd, Is.EqualTo("/srv"));
        Assert.That(Error(() => Gen(Opts("sh") with { Workdir = "x" })),
            Is.EqualTo("the working directory 'x' is invalid, it needs to be an absolute path"));
        Assert.That(Error(() => Gen(Opts("sh"), new ImageDefaults { WorkingDir = "app" })),
            Is.EqualTo("the working directory 'app' is invalid, it needs to be an absolute path"));
    }

    // ---- user ----

    [TestCase(null, 0u, 0u, new uint[0])]
    [TestCase("alice", 1000u, 1000u, new uint[] { 10, 29 })]
    [TestCase("1000", 1000u, 1000u, new uint[] { 10, 29 })]
    [TestCase("bob", 1001u, 100u, new uint[] { 10 })]
    [TestCase("alice:users", 1000u, 100u, new uint[0])]
    [TestCase("alice:29", 1000u, 29u, new uint[0])]
    [TestCase("4242:7", 4242u, 7u, new uint[0])]
    [TestCase("4242", 4242u, 0u, new uint[0])]
    public void UserResolution(string? user, uint uid, uint gid, uint[] extra)
    {
        var u = Gen(Opts("id") with { User = user }).Process!.User;
        Assert.That((u.Uid, u.Gid), Is.EqualTo((uid, gid)));
        Assert.That(u.AdditionalGids ?? [], Is.EqualTo(extra));
    }

    [Test]
    public void ImageUserIsUsedUnlessTheFlagOverrides()
    {
        var image = new ImageDefaults { User = "alice", Cmd = ["sh"] };
        Assert.That(Gen(Opts(), image).Process!.User.Uid, Is.EqualTo(1000u));
        Assert.That(Gen(Opts() with { User = "daemon" }, image).Process!.User.Uid, Is.EqualTo(1u));
    }

    [Test]
    public void UnknownUser() =>
        Assert.That(Error(() => Gen(Opts("sh") with { User = "nosuch" })), Is.EqualTo("unable to find user nosuch: no matching entries in passwd file"));

    // ---- volumes ----

    [Test]
    public void VolumesBecomeBindMountsAfterTheDefaults()
    {
        var mounts = Gen(Opts("sh") with { Volumes = ["/a:/b", "/data/../srv:/srv:ro", "/c:/d:rw,z"] }).Mounts;
        var vols = mounts.Skip(9).Select(m => (m.Source, m.Destination, m.Type, string.Join(',', m.Options!))).ToArray();
        Assert.That(vols, Is.EqualTo(new[]
        {
            ("/a", "/b", "bind", "rbind,rprivate"),
            ("/srv", "/srv", "bind", "rbind,rprivate,ro"),
            ("/c", "/d", "bind", "rbind,rprivate"),
        }));
    }

    [TestCase("a:/b", "invalid volume specification \"a:/b\": host path \"a\" must be absolute (named volumes are not supported yet)")]
    [TestCase("/a:b", "invalid volume specification \"/a:b\": container path \"b\" must be absolute")]
    [TestCase("/a:/b:xyz", "invalid volume specification \"/a:/b:xyz\": unknown option \"xyz\"")]
    [TestCase("/a", "invalid volume specification \"/a\": expected HOST-PATH:CONTAINER-PATH[:ro]")]
    [TestCase("/a:/b:ro:x", "invalid volume specification \"/a:/b:ro:x\": expected HOST-PATH:CONTAINER-PATH[:ro]")]
    public void BadVolumes(string volume, string message)
    {
        Assert.That(Error(() => Gen(Opts("sh") with { Volumes = [volume] })), Is.EqualTo(message));
        Assert.That(Error(() => SpecGenerator.Validate(Opts("sh") with { Volumes = [volume] })), Is.EqualTo(message));
    }

    // ---- network, read-only ----

    [Test]
    public void NetworkNoneGetsItsOwnNamespaceHostDoesNot()
    {
        var none = Gen(Opts("sh")).Linux!.Namespaces.Select(n => n.Type);
        Assert.That(none, Is.EqualTo(new[] { "pid", "mount", "uts", "ipc", "network" }));
        var host = Gen(Opts("sh") with { Network = "host" });
        Assert.That(host.Linux!.Namespaces.Select(n => n.Type), Is.EqualTo(new[] { "pid", "mount", "uts", "ipc" }));
        Assert.That(host.Hostname, Is.EqualTo(Environment.MachineName));
    }

    [Test]
    public void BridgeIsTheDefaultAndGetsANetworkNamespace()
    {
        Assert.That(new RunOptions { Image = "busybox" }.Network, Is.EqualTo("bridge"));
        Assert.That(Gen(Opts("sh")).Linux!.Namespaces!.Any(n => n.Type == "network" && n.Path is null), Is.True);
        Assert.That(Gen(Opts("sh") with { Network = "appnet" }).Linux!.Namespaces!.Any(n => n.Type == "network"), Is.True);
        Assert.That(Error(() => Gen(Opts("sh") with { Network = "none", Publish = ["80"] })), Does.StartWith("conflicting options"));
    }

    [Test]
    public void ReadOnlyFlagSetsRootReadonly()
    {
        Assert.That(Gen(Opts("sh")).Root!.Readonly, Is.False);
        var spec = Gen(Opts("sh") with { ReadOnly = true });
        Assert.That(spec.Root!.Readonly, Is.True);
        Assert.That(spec.Root.Path, Is.EqualTo(Paths.Rootfs));
    }

    // ---- mounts, paths, annotations ----

    [Test]
    public void DockerDefaultMounts()
    {
        var mounts = Gen(Opts("sh")).Mounts;
        Assert.That(mounts.Select(m => (m.Destination, m.Type, m.Source)), Is.EqualTo(new (string, string?, string?)[]
        {
            ("/proc", "proc", "proc"), ("/dev", "tmpfs", "tmpfs"), ("/dev/pts", "devpts", "devpts"), ("/sys", "sysfs", "sysfs"),
            ("/dev/mqueue", "mqueue", "mqueue"), ("/dev/shm", "tmpfs", "shm"),
            ("/etc/resolv.conf", "bind", Paths.ResolvConfFile), ("/etc/hostname", "bind", Paths.HostnameFile), ("/etc/hosts", "bind", Paths.HostsFile),
        }));
        Assert.That(mounts[3].Options, Does.Contain("ro"));
        Assert.That(mounts[0].Options, Is.EquivalentTo(new[] { "nosuid", "noexec", "nodev" }));
        Assert.That(mounts[2].Options, Does.Contain("newinstance").And.Contain("gid=5"));
    }

    [Test]
    public void CgroupNamespaceAndMountsOnV1()
    {
        var hybrid = new Cgroups.CgroupLayout("/sys/fs/cgroup/unified", new Dictionary<string, string>
        {
            ["cpu"] = "/sys/fs/cgroup/cpu,cpuacct", ["cpuacct"] = "/sys/fs/cgroup/cpu,cpuacct", ["memory"] = "/sys/fs/cgroup/memory",
        });
        var spec = SpecGenerator.Generate(Opts("sh"), new ImageDefaults(), ["/l"], Id, Paths, _ => null, null, _ => null, hybrid);
        Assert.That(spec.Linux!.Namespaces.Select(n => n.Type), Does.Contain("cgroup"));
        var cg = spec.Mounts.Skip(4).Take(4).Select(m => (m.Destination, m.Type, string.Join(',', m.Options!))).ToArray();
        Assert.That(cg, Is.EqualTo(new[]
        {
            ("/sys/fs/cgroup", "tmpfs", "nosuid,noexec,nodev,mode=755"),
            ("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "nosuid,noexec,nodev,relatime,ro,cpu,cpuacct"),
            ("/sys/fs/cgroup/memory", "cgroup", "nosuid,noexec,nodev,relatime,ro,memory"),
            ("/sys/fs/cgroup", "tmpfs", "remount,ro,nosuid,noexec,nodev,mode=755"),
        }));
        Assert.That(spec.Linux.CgroupsPath, Is.EqualTo($"/incrun/{Id}"));
    }

    [Test]
    public void CgroupMountOnV2()
    {
        var v2 = new Cgroups.CgroupLayout("/sys/fs/cgroup", new Dictionary<string, string>());
        var spec = SpecGenerator.Generate(Opts("sh"), new ImageDefaults(), ["/l"], Id, Paths, _ => null, null, _ => null, v2);
        Assert.That((spec.Mounts[4].Destination, spec.Mounts[4].Type), Is.EqualTo(("/sys/fs/cgroup", "cgroup2")));
        Assert.That(spec.Mounts[4].Options, Does.Contain("ro"));
        Assert.That(spec.Mounts.Count(m => m.Destination.StartsWith("/sys/fs/cgroup")), Is.EqualTo(1));
    }

    [Test]
    public void DockerMaskedAndReadonlyPaths()
    {
        var linux = Gen(Opts("sh")).Linux!;
        Assert.That(linux.MaskedPaths, Is.EqualTo(SpecGenerator.MaskedPaths));
        Assert.That(linux.MaskedPaths, Does.Contain("/proc/kcore").And.Contain("/sys/firmware").And.Contain("/proc/keys"));
        Assert.That(linux.ReadonlyPaths, Is.EqualTo(new[] { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }));
    }

    [Test]
    public void OverlayAnnotationsListLayersTopFirst()
    {
        var a = Gen(Opts("sh") with { Name = "web" }, layers: ["/l/base", "/l/mid", "/l/top"]).Annotations!;
        Assert.That(a[IncrunAnnotations.OverlayLower], Is.EqualTo("/l/top:/l/mid:/l/base"));
        Assert.That(a[IncrunAnnotations.OverlayUpper], Is.EqualTo(Paths.Upper));
        Assert.That(a[IncrunAnnotations.OverlayWork], Is.EqualTo(Paths.Work));
        Assert.That(a["org.incrun.image"], Is.EqualTo("busybox"));
        Assert.That(a["org.incrun.name"], Is.EqualTo("web"));
    }

    [Test]
    public void TerminalAndConsoleSize()
    {
        var p = Gen(Opts("sh") with { Tty = true }, console: (24, 80)).Process!;
        Assert.That(p.Terminal, Is.True);
        Assert.That((p.ConsoleSize!.Height, p.ConsoleSize.Width), Is.EqualTo((24u, 80u)));
        Assert.That(Gen(Opts("sh")).Process!.ConsoleSize, Is.Null);
    }

    // ---- validation ----

    [TestCase("-bad"), TestCase("a b"), TestCase(""), TestCase("x/y")]
    public void InvalidNames(string name) =>
        Assert.That(Error(() => SpecGenerator.Validate(Opts("sh") with { Name = name })),
            Is.EqualTo($"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));

    [TestCase("bad_host"), TestCase("-x"), TestCase("a..b"), TestCase("")]
    public void InvalidHostnames(string h) =>
        Assert.That(Error(() => SpecGenerator.Validate(Opts("sh") with { Hostname = h })), Is.EqualTo($"invalid hostname format: {h}"));

    [Test]
    public void HostnameLengthLimit()
    {
        Assert.That(() => SpecGenerator.Validate(Opts("sh") with { Hostname = new string('a', 63) }), Throws.Nothing);
        Assert.That(() => SpecGenerator.Validate(Opts("sh") with { Hostname = new string('a', 65) }), Throws.TypeOf<RuntimeError>());
    }

    [TestCase("web_1.v2-a"), TestCase("a")]
    public void ValidNamesPass(string name) =>
        Assert.That(() => SpecGenerator.Validate(Opts("sh") with { Name = name, Hostname = "my-host.example.com" }), Throws.Nothing);

    // ---- JSON ----

    [Test]
    public void JsonRoundTripKeepsTheSpec()
    {
        var spec = Gen(Opts("sh", "-c", "echo \"hi\"") with { User = "alice", Volumes = ["/a:/b:ro"], Tty = true }, Nginx);
        var json = JsonSerializer.SerializeToUtf8Bytes(spec, OciJson.Default.Spec);
        var back = JsonSerializer.Deserialize(json, OciJson.Default.Spec)!;
        Assert.That(back.Process!.Args, Is.EqualTo(spec.Process!.Args));
        Assert.That(back.Process.Env, Is.EqualTo(spec.Process.Env));
        Assert.That(back.Process.User.AdditionalGids, Is.EqualTo(new uint[] { 10, 29 }));
        Assert.That(back.Mounts.Select(m => (m.Destination, m.Type, m.Source, string.Join(',', m.Options ?? []))),
            Is.EqualTo(spec.Mounts.Select(m => (m.Destination, m.Type, m.Source, string.Join(',', m.Options ?? [])))));
        Assert.That(back.Annotations, Is.EqualTo(spec.Annotations));
        Assert.That(back.Linux!.Namespaces.Select(n => n.Type), Is.EqualTo(spec.Linux!.Namespaces.Select(n => n.Type)));
        var text = Encoding.UTF8.GetString(json);
        Assert.That(text, Does.Contain("\"ociVersion\": \"1.2.0\"").And.Contain("\"maskedPaths\""));
        Assert.That(text, Does.Not.Contain("\"rlimits\""), "null fields are left out");
    }
}
