using System.CommandLine;
using Inception.Runtime.Cli.Commands;
using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;
using Inception.Runtime.Run;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>`incrun exec`: the process built from the container's spec and the flags, the command-line
/// split at CONTAINER, and the wire form of the exec spec.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ExecSpecTests
{
    static Spec Container(uint uid = 0) => new()
    {
        Process = new Process
        {
            User = new User { Uid = uid, Gid = uid, AdditionalGids = [10] },
            Args = ["sh"],
            Env = ["PATH=/usr/bin:/bin", "HOSTNAME=abc", "HOME=/root", "KEEP=1"],
            Cwd = "/srv",
            Capabilities = new LinuxCapabilities
            {
                Bounding = ["CAP_CHOWN", "CAP_KILL"], Effective = uid == 0 ? ["CAP_CHOWN", "CAP_KILL"] : [],
                Permitted = uid == 0 ? ["CAP_CHOWN", "CAP_KILL"] : [], Inheritable = [], Ambient = [],
            },
            NoNewPrivileges = true,
            Rlimits = [new Rlimit { Type = "RLIMIT_NOFILE", Soft = 100, Hard = 200 }],
            OomScoreAdj = 5,
        },
    };

    static Process Exec(ExecOptions o, Spec? container = null, Func<string, string?>? hostEnv = null) =>
        SpecGenerator.ExecProcess(container ?? Container(), o,
            f => f switch { "/etc/passwd" => SpecGeneratorTests.Passwd, "/etc/group" => SpecGeneratorTests.Group, _ => null },
            ((ushort)24, (ushort)80), hostEnv ?? (_ => null));

    static ExecOptions Opts(params string[] command) => new() { Container = "c", Command = command };

    [Test]
    public void DefaultsAreTheContainers()
    {
        var p = Exec(Opts("ls", "-l"));
        Assert.That(p.Args, Is.EqualTo(new[] { "ls", "-l" }));
        Assert.That(p.Env, Is.EqualTo(Container().Process!.Env));
        Assert.That(p.Cwd, Is.EqualTo("/srv"));
        Assert.That((p.User.Uid, p.User.Gid, p.User.AdditionalGids), Is.EqualTo((0u, 0u, new List<uint> { 10 })));
        Assert.That(p.Capabilities!.Effective, Is.EqualTo(new[] { "CAP_CHOWN", "CAP_KILL" }));
        Assert.That(p.Capabilities.Bounding, Is.EqualTo(new[] { "CAP_CHOWN", "CAP_KILL" }));
        Assert.That(p.NoNewPrivileges, Is.True);
        Assert.That(p.Rlimits!.Single().Type, Is.EqualTo("RLIMIT_NOFILE"));
        Assert.That(p.OomScoreAdj, Is.EqualTo(5));
        Assert.That(p.Terminal, Is.False);
        Assert.That(p.ConsoleSize, Is.Null);
    }

    [Test]
    public void UserEnvWorkdirAndTty()
    {
        var p = Exec(new ExecOptions { Container = "c", Command = ["id"], User = "alice", Env = ["A=1", "KEEP=2", "FROM_HOST"], Workdir = "/tmp", Tty = true },
            hostEnv: n => n == "FROM_HOST" ? "h" : null);
        Assert.That((p.User.Uid, p.User.Gid), Is.EqualTo((1000u, 1000u)));
        Assert.That(p.User.AdditionalGids, Is.EquivalentTo(new[] { 10u, 29u }));
        Assert.That(p.Env, Is.EqualTo(new[] { "PATH=/usr/bin:/bin", "HOSTNAME=abc", "HOME=/home/alice", "KEEP=2", "A=1", "FROM_HOST=h", "TERM=xterm" }));
        Assert.That(p.Cwd, Is.EqualTo("/tmp"));
        Assert.That(p.Capabilities!.Bounding, Is.EqualTo(new[] { "CAP_CHOWN", "CAP_KILL" }));
        Assert.That(p.Capabilities.Effective, Is.Empty, "a non-root user has no effective capabilities");
        Assert.That(p.Capabilities.Permitted, Is.Empty);
        Assert.That(p.Terminal, Is.True);
        Assert.That((p.ConsoleSize!.Height, p.ConsoleSize.Width), Is.EqualTo((24u, 80u)));
    }

    [Test]
    public void PrivilegedRootGetsEveryCapability()
    {
        var p = Exec(new ExecOptions { Container = "c", Command = ["sh"], Privileged = true });
        Assert.That(p.Capabilities!.Bounding, Has.Count.GreaterThan(38));
        Assert.That(p.Capabilities.Effective, Is.EqualTo(p.Capabilities.Bounding));
    }

    [Test]
    public void BadInput()
    {
        Assert.That(Assert.Throws<RuntimeError>(() => Exec(Opts()))!.Message, Is.EqualTo("No command specified"));
        Assert.That(Assert.Throws<RuntimeError>(() => Exec(new ExecOptions { Container = "c", Command = ["x"], Workdir = "rel" }))!.Message,
            Is.EqualTo("the working directory 'rel' is invalid, it needs to be an absolute path"));
        Assert.That(Assert.Throws<RuntimeError>(() => Exec(new ExecOptions { Container = "c", Command = ["x"], User = "nobody9" }))!.Message,
            Is.EqualTo("unable to find user nobody9: no matching entries in passwd file"));
    }

    [Test]
    public void ExecSpecSurvivesTheWire()
    {
        var p = Exec(new ExecOptions { Container = "c", Command = ["id"], User = "bob", Tty = true });
        var back = SpecWire.Decode(SpecWire.Encode(new Spec { Process = p })).Process!;
        Assert.That(back.Args, Is.EqualTo(p.Args));
        Assert.That(back.Env, Is.EqualTo(p.Env));
        Assert.That((back.User.Uid, back.User.Gid), Is.EqualTo((p.User.Uid, p.User.Gid)));
        Assert.That(back.Capabilities!.Bounding, Is.EqualTo(p.Capabilities!.Bounding));
        Assert.That(back.Rlimits!.Single().Hard, Is.EqualTo(200));
        Assert.That(back.Terminal, Is.True);
    }

    [Test]
    public void CommandLineIsCutAfterTheContainer()
    {
        RunCommand.VerbatimCommand = null;
        var head = RunCommand.SplitAtImage(["--root", "/r", "exec", "-it", "-u", "nobody", "-e", "A=1", "--workdir", "/tmp", "web", "ls", "-l", "-u", "--env"]);
        Assert.That(head, Is.EqualTo(new[] { "--root", "/r", "exec", "-it", "-u", "nobody", "-e", "A=1", "--workdir", "/tmp", "web" }));
        Assert.That(RunCommand.VerbatimCommand, Is.EqualTo(new[] { "ls", "-l", "-u", "--env" }));

        var root = new RootCommand("incrun");
        root.Options.Add(Cli.GlobalOptions.Root);
        var exec = ExecCommand.Create();
        root.Subcommands.Add(exec);
        var r = root.Parse(head);
        Assert.That(r.Errors, Is.Empty);
        Assert.That(r.GetValue((Argument<string>)exec.Arguments.First(a => a.Name == "CONTAINER")), Is.EqualTo("web"));
        Assert.That(r.GetValue((Option<string?>)exec.Options.First(o => o.Name == "--user")), Is.EqualTo("nobody"));
        RunCommand.VerbatimCommand = null;
    }

    [Test]
    public void AProcessThatIsGoneIsNamedInTheError()
    {
        const int gone = int.MaxValue - 1;
        var e = Assert.Throws<RuntimeError>(() => ExecProcess.Start(gone, new Spec(), new Process { Args = ["true"] },
            new StdioFds(0, 1, 2), CgroupHandles.None, Trace.NoTrace.Instance));
        Assert.That(e!.Message, Is.EqualTo($"exec: pidfd_open({gone}): No such process"));
    }
}
