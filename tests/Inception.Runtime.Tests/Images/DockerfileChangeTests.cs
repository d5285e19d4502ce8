using Inception.Runtime.Errors;
using Inception.Runtime.Images;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Images;

[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class DockerfileChangeTests
{
    static ContainerConfig Apply(params string[] changes)
    {
        var config = new ImageConfig();
        DockerfileChange.ApplyAll(config, changes);
        return config.Config;
    }

    [TestCase("CMD [\"sh\"]", new[] { "sh" })]
    [TestCase("CMD [\"/bin/echo\", \"a b\", \"\\\"q\\\"\"]", new[] { "/bin/echo", "a b", "\"q\"" })]
    [TestCase("CMD echo hello   world", new[] { "/bin/sh", "-c", "echo hello   world" })]
    [TestCase("cmd [not json", new[] { "/bin/sh", "-c", "[not json" })]
    [TestCase("  CMD   []", new string[0])]
    public void Cmd(string change, string[] expected) => Assert.That(Apply(change).Cmd, Is.EqualTo(expected));

    [Test]
    public void Entrypoint()
    {
        Assert.That(Apply("ENTRYPOINT [\"/app\", \"--x\"]").Entrypoint, Is.EqualTo(new[] { "/app", "--x" }));
        Assert.That(Apply("ENTRYPOINT exec /app").Entrypoint, Is.EqualTo(new[] { "/bin/sh", "-c", "exec /app" }));
        var config = new ImageConfig { Config = { Cmd = ["old"] } };
        DockerfileChange.Apply(config, "ENTRYPOINT [\"/app\"]");
        Assert.That(config.Config.Cmd, Is.Null, "ENTRYPOINT resets an inherited CMD");
        Assert.That(Apply("CMD [\"-v\"]", "ENTRYPOINT [\"/app\"]").Cmd, Is.EqualTo(new[] { "-v" }), "unless CMD was given too");
        Assert.That(() => Apply("ENTRYPOINT [1]"), Throws.TypeOf<RuntimeError>());
    }

    [Test]
    public void Env()
    {
        var c = Apply("ENV A=1 B=\"two words\" C=x\\ y", "ENV D the rest of the line", "ENV A=3", "env E=");
        Assert.That(c.Env, Is.EqualTo(new[] { "A=3", "B=two words", "C=x y", "D=the rest of the line", "E=" }));
        Assert.That(c.GetEnv("B"), Is.EqualTo("two words"));
        Assert.That(() => Apply("ENV"), Throws.TypeOf<RuntimeError>().With.Message.EqualTo("import --change: ENV requires at least one argument"));
        Assert.That(() => Apply("ENV A=1 =2"), Throws.TypeOf<RuntimeError>());
        Assert.That(() => Apply("ENV lonely"), Throws.TypeOf<RuntimeError>());
    }

    [Test]
    public void WorkdirUserStopSignalLabelExpose()
    {
        var c = Apply("WORKDIR /app", "WORKDIR sub/../data", "USER 1000:1000", "STOPSIGNAL SIGQUIT",
            "LABEL a=b \"c d\"=e", "LABEL maintainer someone else", "EXPOSE 80 53/udp 8000-8001/TCP");
        Assert.That(c.WorkingDir, Is.EqualTo("/app/data"));
        Assert.That(c.User, Is.EqualTo("1000:1000"));
        Assert.That(c.StopSignal, Is.EqualTo("SIGQUIT"));
        Assert.That(c.Labels, Is.EquivalentTo(new Dictionary<string, string> { ["a"] = "b", ["c d"] = "e", ["maintainer"] = "someone else" }));
        Assert.That(c.ExposedPorts!.Keys, Is.EquivalentTo(new[] { "80/tcp", "53/udp", "8000/tcp", "8001/tcp" }));
        Assert.That(() => Apply("EXPOSE 99999"), Throws.TypeOf<RuntimeError>().With.Message.EqualTo("import --change: EXPOSE has an invalid port \"99999\""));
        Assert.That(() => Apply("USER a b"), Throws.TypeOf<RuntimeError>());
    }

    [TestCase("RUN echo hi", "RUN")]
    [TestCase("from scratch", "from")]
    [TestCase("VOLUME /data", "VOLUME")]
    public void UnsupportedInstructions(string change, string word)
    {
        var e = Assert.Throws<RuntimeError>(() => Apply(change));
        Assert.That(e!.Message, Is.EqualTo(
            $"import --change: unsupported instruction \"{word}\" (supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, WORKDIR)"));
    }
}
