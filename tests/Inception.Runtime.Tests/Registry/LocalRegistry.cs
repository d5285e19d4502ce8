using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Registry;

/// <summary>
/// Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a random free port, its config and storage in a
/// temp dir; optionally with htpasswd basic auth or token auth. Dispose kills the one process it started.
/// </summary>
public sealed class LocalRegistry : IDisposable
{
    public const string Binary = "/usr/bin/docker-registry";
    public string Dir { get; }
    public int Port { get; }
    public string Host => $"127.0.0.1:{Port}";
    public string Storage => Path.Combine(Dir, "data");
    readonly Process _process;

    public static bool Available => File.Exists(Binary);

    /// <param name="auth">extra YAML under "auth:" (htpasswd or token), null for none</param>
    public LocalRegistry(string? auth = null, Action<string>? prepare = null, Func<string>? authFromPrepare = null)
    {
        Dir = Path.Combine(Path.GetTempPath(), "incrun-registry-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Storage);
        prepare?.Invoke(Dir);
        auth ??= authFromPrepare?.Invoke();
        Port = FreePort();
        var config = $"""
            version: 0.1
            log:
              level: error
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {Storage}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{Port}
            """ + (auth is null ? "" : "\nauth:\n" + auth) + "\n";
        File.WriteAllText(Path.Combine(Dir, "config.yml"), config);
        var psi = new ProcessStartInfo(Binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(Path.Combine(Dir, "config.yml"));
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var r = http.GetAsync($"http://{Host}/v2/").GetAwaiter().GetResult();
                break; // 200 or 401: it answers
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !_process.HasExited) { Thread.Sleep(100); }
        }
        Assert.That(_process.HasExited, Is.False, "docker-registry exited at start");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>htpasswd file with one bcrypt user (apache2-utils' htpasswd -B).</summary>
    public static string HtpasswdAuth(string dir, string user, string password)
    {
        var path = Path.Combine(dir, "htpasswd");
        var psi = new ProcessStartInfo("htpasswd") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-Bbn", user, password }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, "htpasswd failed");
        File.WriteAllText(path, line);
        return $"  htpasswd:\n    realm: incrun-test\n    path: {path}\n";
    }

    // ---- a tiny client to put test images into the registry as they are (no incrun involved) ----

    public HttpClient Client(string? user = null, string? password = null)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://{Host}/") };
        if (user is not null)
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return http;
    }

    public static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Uploads a blob (monolithic) and returns its digest.</summary>
    public string PutBlob(string repo, byte[] bytes, HttpClient? client = null)
    {
        var http = client ?? Client();
        var digest = Digest(bytes);
        var start = http.PostAsync($"v2/{repo}/blobs/uploads/", null).GetAwaiter().GetResult();
        Assert.That((int)start.StatusCode, Is.EqualTo(202), $"start upload: {start}");
        var loc = start.Headers.Location!;
        var url = (loc.IsAbsoluteUri ? loc.ToString() : $"http://{Host}{loc}") + (loc.ToString().Contains('?') ? "&" : "?") + "digest=" + digest;
        var put = http.PutAsync(url, new ByteArrayContent(bytes)).GetAwaiter().GetResult();
        Assert.That((int)put.StatusCode, Is.EqualTo(201), $"put blob: {put}");
        if (client is null) http.Dispose();
        return digest;
    }

    /// <summary>PUTs a manifest and returns its digest.</summary>
    public string PutManifest(string repo, string reference, byte[] bytes, string mediaType)
    {
        using var http = Client();
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        var r = http.PutAsync($"v2/{repo}/manifests/{reference}", content).GetAwaiter().GetResult();
        Assert.That((int)r.StatusCode, Is.EqualTo(201), $"put manifest: {r} {r.Content.ReadAsStringAsync().Result}");
        return Digest(bytes);
    }

    /// <summary>Path of a blob's data in the registry's storage (to corrupt it).</summary>
    public string BlobDataPath(string digest)
    {
        var hex = digest[7..];
        return Path.Combine(Storage, "docker/registry/v2/blobs/sha256", hex[..2], hex, "data");
    }
}
