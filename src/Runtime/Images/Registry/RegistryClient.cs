using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Inception.Runtime.Images.Registry;

/// <summary>A registry's answer that ends an operation, already worded for one line.</summary>
internal sealed class RegistryException(string message, HttpStatusCode? status = null) : Exception(message)
{
    public HttpStatusCode? Status { get; } = status;
}

/// <summary>
/// A client of one registry (Distribution API v2): ping, authentication (anonymous or with credentials, the
/// Bearer token challenge flow and basic auth), manifests, blobs, uploads. Requests that fail with a connection
/// error or a 5xx status are retried with exponential backoff; 401/404/429 become one-line errors.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    public string Domain { get; }
    readonly string _host;
    readonly RegistryOptions _options;
    readonly (string User, string Password)? _credentials;
    readonly HttpClient _http;
    readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    readonly Lock _lock = new();
    Uri? _base;
    Challenge? _challenge;

    /// <summary>What the registry answered to GET /v2/ without credentials.</summary>
    sealed record Challenge(string Scheme, Dictionary<string, string> Parameters);

    public RegistryClient(string domain, RegistryOptions options, (string User, string Password)? credentials)
    {
        Domain = domain;
        _host = domain == ImageReference.DefaultDomain ? "registry-1.docker.io" : domain;
        _options = options;
        _credentials = credentials;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true, // blob downloads redirect to storage; the Authorization header is dropped on redirect
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = 16,
            UseProxy = true,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan, DefaultRequestVersion = HttpVersion.Version11 };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("incrun/0.1");
    }

    public void Dispose() => _http.Dispose();

    /// <summary>GET /v2/: finds the scheme (https, or http where allowed) and the authentication the registry wants.</summary>
    public void Ping()
    {
        if (_base is not null) return;
        var https = new Uri($"https://{_host}/");
        HttpResponseMessage response;
        try
        {
            response = SendRaw(() => new HttpRequestMessage(HttpMethod.Get, new Uri(https, "v2/")), retry: !_options.AllowsHttp(Domain));
            _base = https;
        }
        catch (RegistryException) when (_options.AllowsHttp(Domain))
        {
            var http = new Uri($"http://{_host}/");
            response = SendRaw(() => new HttpRequestMessage(HttpMethod.Get, new Uri(http, "v2/")), retry: true);
            _base = http;
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
                _challenge = ParseChallenge(response.Headers.WwwAuthenticate);
            else if (!response.IsSuccessStatusCode)
                throw new RegistryException($"{Domain} does not answer as a registry (GET /v2/: {(int)response.StatusCode} {response.ReasonPhrase})", response.StatusCode);
        }
    }

    /// <summary>Checks the credentials (login): a token is granted, or GET /v2/ with basic auth succeeds.</summary>
    public void CheckLogin()
    {
        Ping();
        if (_challenge is null) return; // the registry needs no authentication
        using var r = Send(() => new HttpRequestMessage(HttpMethod.Get, Url("v2/")), null);
        if (r.StatusCode == HttpStatusCode.Unauthorized) throw new RegistryException("unauthorized: incorrect username or password", r.StatusCode);
        if (!r.IsSuccessStatusCode) throw Error(r, "login");
    }

    public Uri Url(string path) => new(_base!, path);

    /// <summary>GET a manifest by tag or digest: its bytes, media type and digest (verified when asked by digest).</summary>
    public (byte[] Bytes, string MediaType, string Digest) GetManifest(string repository, string reference, string scope)
    {
        var accept = new[]
        {
            MediaTypes.OciIndex, MediaTypes.DockerList, MediaTypes.OciManifest, MediaTypes.DockerManifest,
        };
        using var r = Send(() =>
        {
            var m = new HttpRequestMessage(HttpMethod.Get, Url($"v2/{repository}/manifests/{reference}"));
            foreach (var a in accept) m.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(a));
            return m;
        }, scope);
        if (!r.IsSuccessStatusCode) throw Error(r, "manifest", reference);
        var bytes = ReadLimited(r, 4 << 20, "manifest");
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (reference.StartsWith("sha256:", StringComparison.Ordinal) && reference != digest)
            throw new RegistryException($"manifest {reference}: digest mismatch: the registry sent a manifest with digest {digest}");
        var type = r.Content.Headers.ContentType?.MediaType;
        return (bytes, type ?? "", digest);
    }

    /// <summary>GET a blob; the caller reads (and verifies) the stream and disposes the response.</summary>
    public HttpResponseMessage GetBlob(string repository, string digest, string scope)
    {
        var r = Send(() => new HttpRequestMessage(HttpMethod.Get, Url($"v2/{repository}/blobs/{digest}")), scope);
        if (r.IsSuccessStatusCode) return r;
        using (r) throw Error(r, "blob", digest);
    }

    /// <summary>GET a small blob (a config) into memory, verifying its digest.</summary>
    public byte[] GetSmallBlob(string repository, string digest, string scope)
    {
        using var r = GetBlob(repository, digest, scope);
        var bytes = ReadLimited(r, 16 << 20, "blob " + digest);
        var got = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (got != digest) throw new RegistryException($"blob {digest}: digest mismatch: the registry sent {got}");
        return bytes;
    }

    public bool BlobExists(string repository, string digest, string scope)
    {
        using var r = Send(() => new HttpRequestMessage(HttpMethod.Head, Url($"v2/{repository}/blobs/{digest}")), scope);
        if (r.IsSuccessStatusCode) return true;
        if (r.StatusCode == HttpStatusCode.NotFound) return false;
        throw Error(r, "blob", digest);
    }

    /// <summary>Cross-repository mount; true when the registry mounted it (201), false when it wants an upload.</summary>
    public bool MountBlob(string repository, string digest, string from, string scope)
    {
        using var r = Send(() => new HttpRequestMessage(HttpMethod.Post,
            Url($"v2/{repository}/blobs/uploads/?mount={Uri.EscapeDataString(digest)}&from={Uri.EscapeDataString(from)}")), scope);
        if (r.StatusCode == HttpStatusCode.Created) return true;
        if (r.StatusCode == HttpStatusCode.Accepted) { CancelUpload(r, scope); return false; }
        if (r.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.MethodNotAllowed) return false;
        throw Error(r, "blob mount", digest);
    }

    void CancelUpload(HttpResponseMessage started, string scope)
    {
        if (started.Headers.Location is not { } loc) return;
        var url = loc.IsAbsoluteUri ? loc : Url(loc.OriginalString.TrimStart('/'));
        try { using var _ = Send(() => new HttpRequestMessage(HttpMethod.Delete, url), scope); }
        catch (RegistryException) { }
    }

    /// <summary>Monolithic upload: POST to start, PUT the whole blob with its digest.</summary>
    public void UploadBlob(string repository, string digest, string path, string scope)
    {
        using var start = Send(() => new HttpRequestMessage(HttpMethod.Post, Url($"v2/{repository}/blobs/uploads/")), scope);
        if (start.StatusCode != HttpStatusCode.Accepted || start.Headers.Location is not { } loc) throw Error(start, "blob upload", digest);
        var location = loc.IsAbsoluteUri ? loc : Url(loc.OriginalString.TrimStart('/'));
        var sep = location.Query.Length > 0 ? "&" : "?";
        var put = new Uri(location + sep + "digest=" + Uri.EscapeDataString(digest));
        using var r = Send(() =>
        {
            var m = new HttpRequestMessage(HttpMethod.Put, put);
            var content = new StreamContent(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Headers.ContentLength = new FileInfo(path).Length;
            m.Content = content;
            return m;
        }, scope);
        if (r.StatusCode != HttpStatusCode.Created) throw Error(r, "blob upload", digest);
    }

    /// <summary>PUT a manifest under a tag; returns the digest the registry reports (or computes it).</summary>
    public string PutManifest(string repository, string tag, byte[] bytes, string mediaType, string scope)
    {
        using var r = Send(() =>
        {
            var m = new HttpRequestMessage(HttpMethod.Put, Url($"v2/{repository}/manifests/{tag}"));
            m.Content = new ByteArrayContent(bytes);
            m.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return m;
        }, scope);
        if (r.StatusCode != HttpStatusCode.Created) throw Error(r, "manifest", tag);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>Sends with authentication for <paramref name="scope"/>; a 401 fetches a fresh token once and retries.</summary>
    public HttpResponseMessage Send(Func<HttpRequestMessage> make, string? scope)
    {
        Ping();
        for (int attempt = 0; ; attempt++)
        {
            var auth = Authorization(scope, refresh: attempt > 0);
            var r = SendRaw(() =>
            {
                var m = make();
                if (auth is not null) m.Headers.Authorization = auth;
                return m;
            }, retry: true);
            if (r.StatusCode != HttpStatusCode.Unauthorized || attempt > 0 || _challenge is null) return r;
            // a new challenge (another realm or scope, or an expired token): authenticate again
            var c = ParseChallenge(r.Headers.WwwAuthenticate);
            if (c is not null) lock (_lock) _challenge = c;
            r.Dispose();
        }
    }

    AuthenticationHeaderValue? Authorization(string? scope, bool refresh)
    {
        var c = _challenge;
        if (c is null) return null;
        if (c.Scheme.Equals("basic", StringComparison.OrdinalIgnoreCase))
            return _credentials is { } cred ? new AuthenticationHeaderValue("Basic", Basic(cred)) : null;
        if (!c.Scheme.Equals("bearer", StringComparison.OrdinalIgnoreCase)) return null;
        var key = scope ?? "";
        lock (_lock)
            if (!refresh && _tokens.TryGetValue(key, out var cached)) return new AuthenticationHeaderValue("Bearer", cached);
        var token = FetchToken(c, scope);
        lock (_lock) _tokens[key] = token;
        return new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>The token flow: GET realm?service=…&amp;scope=… (with basic credentials when logged in).</summary>
    string FetchToken(Challenge c, string? scope)
    {
        if (!c.Parameters.TryGetValue("realm", out var realm) || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri)
            || realmUri.Scheme is not ("https" or "http"))
            throw new RegistryException($"{Domain} asks for a token from an invalid realm \"{realm}\"");
        if (realmUri.Scheme == "http" && !_options.AllowsHttp(realmUri.Authority) && !_options.AllowsHttp(Domain))
            throw new RegistryException($"{Domain} asks for a token over plain HTTP ({realm}); refusing to send credentials");
        var query = new StringBuilder();
        if (c.Parameters.TryGetValue("service", out var service)) query.Append("service=").Append(Uri.EscapeDataString(service));
        foreach (var s in (scope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(s));
        var url = new UriBuilder(realmUri) { Query = (realmUri.Query.TrimStart('?') is { Length: > 0 } q ? q + "&" : "") + query }.Uri;
        using var r = SendRaw(() =>
        {
            var m = new HttpRequestMessage(HttpMethod.Get, url);
            if (_credentials is { } cred) m.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic(cred));
            return m;
        }, retry: true);
        if (r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new RegistryException(_credentials is null ? "authentication required (incrun login)" : "unauthorized: incorrect username or password", r.StatusCode);
        if (!r.IsSuccessStatusCode) throw new RegistryException($"token server {realmUri.Authority}: {(int)r.StatusCode} {r.ReasonPhrase}", r.StatusCode);
        TokenResponse? t;
        try { t = JsonSerializer.Deserialize(ReadLimited(r, 1 << 20, "token"), RegistryJsonContext.Default.TokenResponse); }
        catch (JsonException e) { throw new RegistryException($"token server {realmUri.Authority}: invalid answer: {e.Message}"); }
        return t?.Token ?? t?.AccessToken ?? throw new RegistryException($"token server {realmUri.Authority}: no token in its answer");
    }

    static string Basic((string User, string Password) c) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{c.User}:{c.Password}"));

    /// <summary>Sends, retrying connection errors and 5xx answers with exponential backoff.</summary>
    HttpResponseMessage SendRaw(Func<HttpRequestMessage> make, bool retry)
    {
        var delay = _options.FirstBackoff;
        for (int attempt = 1; ; attempt++)
        {
            bool last = !retry || attempt >= _options.Attempts;
            using var request = make();
            try
            {
                var r = _http.Send(request, HttpCompletionOption.ResponseHeadersRead);
                if ((int)r.StatusCode < 500 || last) return r;
                r.Dispose();
            }
            catch (HttpRequestException e) when (last)
            {
                throw new RegistryException($"{request.RequestUri!.GetLeftPart(UriPartial.Authority)}: {Describe(e)}");
            }
            catch (HttpRequestException) { }
            catch (IOException e) when (last) { throw new RegistryException($"{request.RequestUri!.GetLeftPart(UriPartial.Authority)}: {e.Message}"); }
            catch (IOException) { }
            Thread.Sleep(delay);
            delay *= 2;
        }
    }

    static string Describe(HttpRequestException e)
    {
        var inner = e.InnerException;
        while (inner?.InnerException is not null && inner is not System.Net.Sockets.SocketException) inner = inner.InnerException;
        return inner is null || e.Message.Contains(inner.Message, StringComparison.Ordinal) ? e.Message : $"{e.Message} ({inner.Message})";
    }

    static byte[] ReadLimited(HttpResponseMessage r, int limit, string what)
    {
        if (r.Content.Headers.ContentLength is > 0 and var len && len > limit)
            throw new RegistryException($"{what} is too large ({len} bytes)");
        using var s = r.Content.ReadAsStream();
        var ms = new MemoryStream();
        var buf = new byte[81920];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            ms.Write(buf, 0, n);
            if (ms.Length > limit) throw new RegistryException($"{what} is too large (more than {limit} bytes)");
        }
        return ms.ToArray();
    }

    /// <summary>One line for a failed answer: 401/403 → not found or requires login, 404 → not found, 429 → rate limit.</summary>
    public static RegistryException Error(HttpResponseMessage r, string what, string? name = null)
    {
        string? code = null, message = null;
        try
        {
            var bytes = ReadLimited(r, 64 << 10, "error");
            if (bytes.Length > 0 && JsonSerializer.Deserialize(bytes, RegistryJsonContext.Default.RegistryErrors)?.Errors is [var first, ..])
                (code, message) = (first.Code, first.Message);
        }
        catch (Exception e) when (e is JsonException or RegistryException or IOException or HttpRequestException) { }
        var detail = code is null ? "" : $" ({code}{(message is null ? "" : ": " + message)})";
        return r.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new RegistryException($"repository not found or requires login{detail}", r.StatusCode),
            HttpStatusCode.NotFound when code is "NAME_UNKNOWN" => new RegistryException("repository not found or requires login", r.StatusCode),
            HttpStatusCode.NotFound when what == "manifest" => new RegistryException($"manifest for {name} not found: manifest unknown", r.StatusCode),
            HttpStatusCode.NotFound => new RegistryException($"{what} {name} not found", r.StatusCode),
            HttpStatusCode.TooManyRequests => new RegistryException(
                $"too many requests: the registry's rate limit was reached (log in with incrun login, or wait){detail}", r.StatusCode),
            _ => new RegistryException($"{what}{(name is null ? "" : " " + name)}: {(int)r.StatusCode} {r.ReasonPhrase}{detail}", r.StatusCode),
        };
    }

    /// <summary>Parses <c>Bearer realm="…",service="…",scope="…"</c> (or Basic realm="…").</summary>
    static Challenge? ParseChallenge(HttpHeaderValueCollection<AuthenticationHeaderValue> headers)
    {
        AuthenticationHeaderValue? chosen = null;
        foreach (var h in headers)
        {
            if (h.Scheme.Equals("bearer", StringComparison.OrdinalIgnoreCase)) { chosen = h; break; }
            if (h.Scheme.Equals("basic", StringComparison.OrdinalIgnoreCase)) chosen ??= h;
        }
        if (chosen is null) return null;
        return new Challenge(chosen.Scheme, ParseParameters(chosen.Parameter ?? ""));
    }

    internal static Dictionary<string, string> ParseParameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || text[i] == ' ')) i++;
            int eq = text.IndexOf('=', i);
            if (eq < 0) break;
            var key = text[i..eq].Trim();
            i = eq + 1;
            var value = new StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length) i++;
                    value.Append(text[i++]);
                }
                i++;
            }
            else
                while (i < text.Length && text[i] != ',') value.Append(text[i++]);
            result[key] = value.ToString().Trim();
        }
        return result;
    }
}
