using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Inception.Runtime.Tests.Registry;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>
/// The Bearer token flow Docker Hub uses: the registry (token auth) sends clients to a token server, here a small
/// HttpListener on 127.0.0.1 that signs JWTs (RS256, x5c) with a certificate the registry trusts. Anonymous
/// clients get a token without access (as Docker Hub does for a private repository); alice gets what she asks for.
/// </summary>
[TestFixture]
public class TokenRegistryTests : ContainerTest
{
    LocalRegistry _registry = null!;
    HttpListener _tokens = null!;
    RSA _key = null!;
    X509Certificate2 _cert = null!;
    int _tokenPort;
    int _issued;
    string _root = "";
    const string Service = "incrun-test-registry", Issuer = "incrun-test-issuer";

    [OneTimeSetUp]
    public void Start()
    {
        if (!Incrun.IsRoot) Assert.Ignore("integration tests need root");
        _key = RSA.Create(2048);
        var req = new CertificateRequest("CN=incrun test token issuer", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        _cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        _tokenPort = FreePort();
        _tokens = new HttpListener();
        _tokens.Prefixes.Add($"http://127.0.0.1:{_tokenPort}/");
        _tokens.Start();
        _ = Task.Run(Serve);
        string auth = "";
        _registry = new LocalRegistry(prepare: dir =>
        {
            var pem = Path.Combine(dir, "root.pem");
            File.WriteAllText(pem, _cert.ExportCertificatePem());
            auth = $"  token:\n    realm: http://127.0.0.1:{_tokenPort}/token\n    service: {Service}\n    issuer: {Issuer}\n    rootcertbundle: {pem}\n";
        }, authFromPrepare: () => auth);
    }

    static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int p = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return p;
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _registry?.Dispose();
        try { _tokens?.Stop(); _tokens?.Close(); } catch (ObjectDisposedException) { }
        _cert?.Dispose();
        _key?.Dispose();
    }

    [SetUp]
    public void FreshRoot() => _root = Path.Combine(Path.GetTempPath(), "incrun-token-" + Guid.NewGuid().ToString("N")[..10]);

    [TearDown]
    public void RemoveRoot()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
    }

    async Task Serve()
    {
        while (_tokens.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _tokens.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            try { Answer(ctx); }
            catch (Exception) { ctx.Response.StatusCode = 500; }
            finally { ctx.Response.Close(); }
        }
    }

    void Answer(HttpListenerContext ctx)
    {
        string? user = null;
        if (ctx.Request.Headers["Authorization"] is { } h && h.StartsWith("Basic "))
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(h[6..]));
            if (pair != "alice:s3cret") { ctx.Response.StatusCode = 401; return; }
            user = "alice";
        }
        var access = new JsonArray();
        foreach (var scope in ctx.Request.QueryString.GetValues("scope") ?? [])
        {
            var parts = scope.Split(':');
            if (parts.Length != 3 || user is null) continue; // anonymous: a token without access
            access.Add(new JsonObject { ["type"] = parts[0], ["name"] = parts[1], ["actions"] = new JsonArray([.. parts[2].Split(',').Select(a => (JsonNode)a)]) });
        }
        Interlocked.Increment(ref _issued);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject { ["typ"] = "JWT", ["alg"] = "RS256", ["x5c"] = new JsonArray(Convert.ToBase64String(_cert.RawData)) };
        var claims = new JsonObject
        {
            ["iss"] = Issuer, ["sub"] = user ?? "", ["aud"] = Service, ["exp"] = now + 300, ["nbf"] = now - 10, ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"), ["access"] = access,
        };
        var signing = B64(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var sig = _key.SignData(Encoding.ASCII.GetBytes(signing), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var body = Encoding.UTF8.GetBytes(new JsonObject { ["token"] = signing + "." + B64(sig), ["expires_in"] = 300 }.ToJsonString());
        ctx.Response.ContentType = "application/json";
        ctx.Response.OutputStream.Write(body);
    }

    static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    RunResult In(string? stdin, params string[] args) => Incrun.RunWith(stdin, TimeSpan.FromSeconds(60), ["--root", _root, .. args]);

    [Test]
    public void BearerTokenFlowAnonymousAndWithCredentials()
    {
        var name = $"{_registry.Host}/team/busybox:1";
        Assert.That(Run("tag", "busybox", name).ExitCode, Is.Zero);

        var anonymous = Run("push", name);
        Assert.That(anonymous.ExitCode, Is.EqualTo(125));
        Assert.That(anonymous.Stderr, Does.StartWith($"incrun: push {name}: repository not found or requires login"));
        Assert.That(_issued, Is.GreaterThan(0), "incrun asked the token server");

        var wrong = In("nope\n", "login", "-u", "alice", "--password-stdin", _registry.Host);
        Assert.That(wrong.Stderr, Is.EqualTo($"incrun: login {_registry.Host}: unauthorized: incorrect username or password\n"));
        var login = In("s3cret\n", "login", "-u", "alice", "--password-stdin", _registry.Host);
        Assert.That(login.Stdout, Is.EqualTo("Login Succeeded\n"), login.ToString());

        File.Copy(Path.Combine(_root, "auth.json"), Path.Combine(Incrun.StateRoot, "auth.json"), overwrite: true);
        try
        {
            var push = Run("push", name);
            Assert.That(push.ExitCode, Is.Zero, push.ToString());
        }
        finally { File.Delete(Path.Combine(Incrun.StateRoot, "auth.json")); }

        var run = In(null, "run", "--rm", name, "echo", "token");
        Assert.That(run.Stdout, Is.EqualTo("token\n"), run.ToString());

        var other = Path.Combine(Path.GetTempPath(), "incrun-token-anon-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var anon = Incrun.Run("--root", other, "pull", name);
            Assert.That(anon.ExitCode, Is.EqualTo(125));
            Assert.That(anon.Stderr, Does.StartWith($"incrun: pull {name}: repository not found or requires login"));
        }
        finally { if (Directory.Exists(other)) Directory.Delete(other, true); }
    }
}
