using Inception.Runtime.Tests.Registry;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>A registry with htpasswd basic auth: anonymous access is refused, login stores 0600 credentials, push and pull work.</summary>
[TestFixture]
public class AuthRegistryTests : ContainerTest
{
    LocalRegistry _registry = null!;
    string _root = "";

    [OneTimeSetUp]
    public void StartRegistry()
    {
        if (!Incrun.IsRoot) Assert.Ignore("integration tests need root");
        string auth = "";
        _registry = new LocalRegistry(prepare: dir => auth = LocalRegistry.HtpasswdAuth(dir, "alice", "s3cret"), authFromPrepare: () => auth);
    }

    [OneTimeTearDown]
    public void StopRegistry() => _registry?.Dispose();

    [SetUp]
    public void FreshRoot() => _root = Path.Combine(Path.GetTempPath(), "incrun-auth-" + Guid.NewGuid().ToString("N")[..10]);

    [TearDown]
    public void RemoveRoot()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
    }

    RunResult In(string? stdin, params string[] args) => Incrun.RunWith(stdin, TimeSpan.FromSeconds(60), ["--root", _root, .. args]);

    [Test]
    public void LoginThenPushAndPullWithBasicAuth()
    {
        var name = $"{_registry.Host}/private/busybox:1";
        Assert.That(Run("tag", "busybox", name).ExitCode, Is.Zero);

        var anonymous = Run("push", name);
        Assert.That(anonymous.ExitCode, Is.EqualTo(125));
        Assert.That(anonymous.Stderr, Does.StartWith($"incrun: push {name}: repository not found or requires login"));

        var wrong = In("nope\n", "login", "-u", "alice", "--password-stdin", _registry.Host);
        Assert.That(wrong.ExitCode, Is.EqualTo(125));
        Assert.That(wrong.Stderr, Is.EqualTo($"incrun: login {_registry.Host}: unauthorized: incorrect username or password\n"));
        Assert.That(File.Exists(Path.Combine(_root, "auth.json")), Is.False);

        var login = In("s3cret\n", "login", "-u", "alice", "--password-stdin", _registry.Host);
        Assert.That(login.ExitCode, Is.Zero, login.ToString());
        Assert.That(login.Stdout, Is.EqualTo("Login Succeeded\n"));
        Assert.That(File.GetUnixFileMode(Path.Combine(_root, "auth.json")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));

        // push from the test run's store with the credentials of this root: copy them over
        var push = Incrun.Run("--root", Incrun.StateRoot, "push", name);
        Assert.That(push.ExitCode, Is.EqualTo(125), "the shared root is not logged in");
        File.Copy(Path.Combine(_root, "auth.json"), Path.Combine(Incrun.StateRoot, "auth.json"), overwrite: true);
        try
        {
            push = Run("push", name);
            Assert.That(push.ExitCode, Is.Zero, push.ToString());
        }
        finally { File.Delete(Path.Combine(Incrun.StateRoot, "auth.json")); }

        var pull = In(null, "pull", name);
        Assert.That(pull.ExitCode, Is.Zero, pull.ToString());
        var run = In(null, "run", "--rm", name, "echo", "authenticated");
        Assert.That(run.Stdout, Is.EqualTo("authenticated\n"), run.ToString());

        Assert.That(In(null, "logout", _registry.Host).Stdout, Is.EqualTo($"Removing login credentials for {_registry.Host}\n"));
        var after = In(null, "pull", $"{_registry.Host}/private/busybox:1");
        Assert.That(after.ExitCode, Is.EqualTo(125), "logged out: the registry refuses the manifest");
        Assert.That(after.Stderr, Does.Contain("repository not found or requires login"));
    }
}
