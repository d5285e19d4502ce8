using System.CommandLine;
using System.CommandLine.Help;
using Inception.Runtime.Cli;
using Inception.Runtime.Cli.Commands;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>`incrun run` parsing, with the root built as Program.cs builds it.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class RunCommandParsingTests
{
    Command _run = null!;
    RootCommand _root = null!;

    [SetUp]
    public void BuildRoot()
    {
        _root = new RootCommand("incrun");
        _root.Options.Add(GlobalOptions.Explain);
        _root.Options.Add(GlobalOptions.Root);
        foreach (var help in _root.Options.OfType<HelpOption>()) help.Aliases.Remove("-h");
        _run = RunCommand.Create();
        _root.Subcommands.Add(_run);
    }

    ParseResult Parse(params string[] args)
    {
        RunCommand.VerbatimCommand = null;
        return _root.Parse(RunCommand.SplitAtImage(["run", .. args]));
    }

    ParseResult ParseOk(params string[] args)
    {
        var r = Parse(args);
        Assert.That(r.Errors.Select(e => e.Message), Is.Empty, string.Join(' ', args));
        Assert.That(r.CommandResult.Command, Is.SameAs(_run));
        return r;
    }

    T? Opt<T>(ParseResult r, string name) => r.GetValue((Option<T>)_run.Options.First(o => o.Name == name));
    string? Image(ParseResult r) => r.GetValue((Argument<string>)_run.Arguments.First(a => a.Name == "IMAGE"));
    string[]? Command(ParseResult r) => RunCommand.VerbatimCommand ?? r.GetValue((Argument<string[]>)_run.Arguments.First(a => a.Name == "COMMAND"));

    [Test]
    public void ImageThenCommand()
    {
        var r = ParseOk("busybox", "sh", "-c", "echo hi");
        Assert.That(Image(r), Is.EqualTo("busybox"));
        Assert.That(Command(r), Is.EqualTo(new[] { "sh", "-c", "echo hi" }));
    }

    [Test]
    public void NoCommandIsEmpty()
    {
        var r = ParseOk("alpine:3.20");
        Assert.That(Image(r), Is.EqualTo("alpine:3.20"));
        Assert.That(Command(r), Is.Empty);
    }

    [Test]
    public void OptionsAfterTheCommandBelongToIt()
    {
        var r = ParseOk("busybox", "ls", "-l", "--all");
        Assert.That(Command(r), Is.EqualTo(new[] { "ls", "-l", "--all" }));
    }

    [Test]
    public void RunOptionNamesAfterTheCommandAreNotTakenByRun()
    {
        var r = ParseOk("busybox", "env", "-e", "X=1", "--rm", "-h", "--help", "--explain");
        Assert.That(Command(r), Is.EqualTo(new[] { "env", "-e", "X=1", "--rm", "-h", "--help", "--explain" }));
        Assert.That(Opt<string[]>(r, "--env"), Is.Empty);
        Assert.That(Opt<bool>(r, "--rm"), Is.False);
        Assert.That(Opt<string?>(r, "--hostname"), Is.Null);
        Assert.That(r.GetValue(GlobalOptions.Explain), Is.False);
    }

    [Test]
    public void AFirstCommandWordThatLooksLikeARunOptionStillBelongsToTheCommand()
    {
        var r = ParseOk("busybox", "--rm");
        Assert.That(Command(r), Is.EqualTo(new[] { "--rm" }));
        Assert.That(Opt<bool>(r, "--rm"), Is.False);
    }

    [Test]
    public void DoubleDashBeforeImageEndsOptions()
    {
        var r = ParseOk("-t", "--", "busybox", "ls");
        Assert.That((Image(r), Opt<bool>(r, "--tty")), Is.EqualTo(("busybox", true)));
        Assert.That(Command(r), Is.EqualTo(new[] { "ls" }));
    }

    // docker passes everything after IMAGE to the container verbatim (RunCommand.SplitAtImage).
    [TestCase("grep", "-it", "x")]
    [TestCase("app", "--name=web")]
    [TestCase("ls", "--", "-weird-file")]
    public void CommandTokensAreKeptVerbatim(params string[] command) =>
        Assert.That(Command(ParseOk(["busybox", .. command])), Is.EqualTo(command));

    [Test]
    public void BundledShortFlags()
    {
        var r = ParseOk("-it", "busybox", "sh");
        Assert.That((Opt<bool>(r, "--interactive"), Opt<bool>(r, "--tty")), Is.EqualTo((true, true)));
        Assert.That(Command(r), Is.EqualTo(new[] { "sh" }));
        var plain = ParseOk("busybox");
        Assert.That((Opt<bool>(plain, "--interactive"), Opt<bool>(plain, "--tty")), Is.EqualTo((false, false)));
    }

    [Test]
    public void RepeatedEnvAndVolumes()
    {
        var r = ParseOk("-e", "A=1", "--env", "B=2", "-e", "HOME", "-v", "/a:/b:ro", "--volume", "/c:/d", "--env-file", "x.env", "busybox");
        Assert.That(Opt<string[]>(r, "--env"), Is.EqualTo(new[] { "A=1", "B=2", "HOME" }));
        Assert.That(Opt<string[]>(r, "--volume"), Is.EqualTo(new[] { "/a:/b:ro", "/c:/d" }));
        Assert.That(Opt<string[]>(r, "--env-file"), Is.EqualTo(new[] { "x.env" }));
    }

    [Test]
    public void ShortHIsHostnameNotHelp()
    {
        var r = ParseOk("-h", "myhost", "busybox");
        Assert.That(Opt<string?>(r, "--hostname"), Is.EqualTo("myhost"));
        Assert.That(Image(r), Is.EqualTo("busybox"));
        Assert.That(_root.Options.OfType<HelpOption>().Single().Aliases, Does.Not.Contain("-h"));
    }

    [Test]
    public void StringOptionsAndTheirDefaults()
    {
        var r = ParseOk("--rm", "--name", "web", "-w", "/srv", "-u", "1000:1000", "--entrypoint", "", "--read-only",
            "--net", "host", "-d", "nginx", "ls");
        Assert.That((Opt<string?>(r, "--name"), Opt<string?>(r, "--workdir"), Opt<string?>(r, "--user")), Is.EqualTo(("web", "/srv", "1000:1000")));
        Assert.That(Opt<string?>(r, "--entrypoint"), Is.EqualTo(""), "an empty --entrypoint is kept (it clears the image's)");
        Assert.That((Opt<bool>(r, "--rm"), Opt<bool>(r, "--read-only"), Opt<bool>(r, "--detach")), Is.EqualTo((true, true, true)));
        Assert.That(Opt<string>(r, "--network"), Is.EqualTo("host"));

        var d = ParseOk("busybox");
        Assert.That(Opt<string>(d, "--network"), Is.EqualTo("bridge"), "docker's default network");
        Assert.That((Opt<string?>(d, "--name"), Opt<string?>(d, "--entrypoint"), Opt<string?>(d, "--user")), Is.EqualTo(((string?)null, (string?)null, (string?)null)));
        Assert.That(Opt<string[]>(d, "--env"), Is.Empty);
    }

    [Test]
    public void PublishOptions()
    {
        var r = ParseOk("-p", "8080:80", "--publish", "127.0.0.1::53/udp", "-P", "--network-alias", "db", "--net-alias", "database", "busybox", "-p", "x");
        Assert.That(Opt<string[]>(r, "--publish"), Is.EqualTo(new[] { "8080:80", "127.0.0.1::53/udp" }));
        Assert.That(Opt<bool>(r, "--publish-all"), Is.True);
        Assert.That(Opt<string[]>(r, "--network-alias"), Is.EqualTo(new[] { "db", "database" }));
        Assert.That(Image(r), Is.EqualTo("busybox"), "-p takes a value, so the image is found after it");
    }

    [Test]
    public void GlobalOptionsWorkOnRun()
    {
        var r = ParseOk("--explain", "--root", "/tmp/incrun-root", "busybox", "true");
        Assert.That(r.GetValue(GlobalOptions.Explain), Is.True);
        Assert.That(r.GetValue(GlobalOptions.Root), Is.EqualTo("/tmp/incrun-root"));
        Assert.That(Command(r), Is.EqualTo(new[] { "true" }));
    }

    [Test]
    public void UnknownFlagBeforeImageIsAnError()
    {
        var r = Parse("--nosuch", "busybox");
        Assert.That(r.Errors, Is.Not.Empty);
        Assert.That(r.Errors.Select(e => e.Message), Has.Some.EqualTo("unknown flag: --nosuch"));
        Assert.That(r.CommandResult.Command, Is.SameAs(_run), "Program.cs prints \"See 'incrun run --help'\"");
    }

    [Test]
    public void MissingImageIsAnError()
    {
        const string missing = "Required argument 'IMAGE' missing for command: 'run'.";
        Assert.That(Parse().Errors.Select(e => e.Message), Is.EqualTo(new[] { missing }));
        var r = Parse("-it", "--rm");
        Assert.That(r.Errors.Select(e => e.Message), Is.EqualTo(new[] { missing }));
        Assert.That(r.CommandResult.Command, Is.SameAs(_run));
    }

    [Test]
    public void OptionMissingItsValueIsAnError()
    {
        var r = Parse("--name");
        Assert.That(r.Errors.Select(e => e.Message), Has.Some.EqualTo("Required argument missing for option: '--name'."));
        Assert.That(Parse("busybox", "-e").Errors, Is.Empty, "after IMAGE, -e is the command's");
    }
}
