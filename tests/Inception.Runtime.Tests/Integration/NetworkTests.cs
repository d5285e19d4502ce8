using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>Bridge networking with real containers. Traffic goes only to 127.0.0.1, to the bridges this
/// run made and to its own containers.</summary>
public sealed class NetworkTests : ContainerTest
{
    /// <summary>A container serving <paramref name="body"/> with busybox httpd on <paramref name="port"/>,
    /// which exits on SIGTERM (forwarded by incrun).</summary>
    static string[] Server(string body, int port = 80) =>
        ["sh", "-c", $"trap 'exit 0' TERM; mkdir -p /w; echo {body} > /w/index.html; httpd -p {port} -h /w; echo READY; while :; do sleep 1; done"];

    static (Process Process, StringBuilder Out, StringBuilder Err) Start(string[] args) =>
        Incrun.StartUntil("READY", ["run", "--rm", .. args]);

    static void Stop(Process p)
    {
        if (p.HasExited) return;
        Process.Start("kill", ["-TERM", p.Id.ToString()])!.WaitForExit();
        if (!p.WaitForExit(10_000)) { p.Kill(); p.WaitForExit(); }
        p.WaitForExit();
    }

    static JsonElement Inspect(string network)
    {
        var r = Run("network", "inspect", network);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return JsonDocument.Parse(r.Stdout).RootElement[0];
    }

    static string Gateway(string network) => Inspect(network).GetProperty("IPAM").GetProperty("Config")[0].GetProperty("Gateway").GetString()!;

    static string AddressOf(string network, string name) =>
        Inspect(network).GetProperty("Containers").EnumerateObject().First(c => c.Value.GetProperty("Name").GetString() == name)
            .Value.GetProperty("IPv4Address").GetString()!.Split('/')[0];

    static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    static string Get(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return http.GetStringAsync(url).GetAwaiter().GetResult();
    }

    [Test]
    public void DefaultBridgeGivesAnAddressARouteAndResolvConfWithoutLoopback()
    {
        var gw = Gateway("bridge");
        var r = Run("run", "--rm", "busybox", "sh", "-c", $"ip -4 -o addr show eth0; ip route; ping -c1 -W2 {gw} >/dev/null && echo PING-OK; grep -c '^nameserver 127' /etc/resolv.conf; grep $(hostname) /etc/hosts");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Match(@"eth0\s+inet 10\.\d+\.\d+\.\d+/\d+"));
        Assert.That(r.Stdout, Does.Contain($"default via {gw} dev eth0"));
        Assert.That(r.Stdout, Does.Contain("PING-OK"), "the host's bridge address is reachable");
        Assert.That(r.Stdout, Does.Contain("\n0\n"), "no loopback resolver in /etc/resolv.conf");
        Assert.That(r.Stdout, Does.Match(@"10\.\d+\.\d+\.\d+\t[0-9a-f]{12}"), "/etc/hosts names the container's own address");
    }

    [Test]
    public void PublishedPortIsReachedOnLoopbackAndOnTheBridgeAddress()
    {
        int port = FreePort();
        var (p, _, err) = Start(["--name", "web", "-p", $"{port}:80", "busybox", .. Server("hello-web")]);
        try
        {
            Assert.That(Get($"http://127.0.0.1:{port}/").Trim(), Is.EqualTo("hello-web"));
            Assert.That(Get($"http://{Gateway("bridge")}:{port}/").Trim(), Is.EqualTo("hello-web"));
            var r = Run("port", "web");
            Assert.That(r.Stdout.Trim(), Is.EqualTo($"80/tcp -> 0.0.0.0:{port}"), r.ToString());
            Assert.That(Run("port", "web", "80").Stdout.Trim(), Is.EqualTo($"0.0.0.0:{port}"));
        }
        finally { Stop(p); }
        Assert.That(p.ExitCode, Is.EqualTo(0), err.ToString());
    }

    [Test]
    public void PublishedOnLoopbackOnlyAndOnARandomPort()
    {
        var (p, _, err) = Start(["--name", "lo-web", "-p", "127.0.0.1::80", "busybox", .. Server("random-port")]);
        try
        {
            var r = Run("port", "lo-web");
            Assert.That(r.Stdout, Does.Match(@"^80/tcp -> 127\.0\.0\.1:\d+\n$"), r.ToString());
            int port = int.Parse(r.Stdout.Trim().Split(':')[^1]);
            Assert.That(port, Is.GreaterThan(0));
            Assert.That(Get($"http://127.0.0.1:{port}/").Trim(), Is.EqualTo("random-port"));
            // bound to 127.0.0.1 only: the bridge address of the host does not forward it
            Assert.Throws<HttpRequestException>(() => Get($"http://{Gateway("bridge")}:{port}/"));
        }
        finally { Stop(p); }
        Assert.That(p.ExitCode, Is.EqualTo(0), err.ToString());
    }

    [Test]
    public void PublishAllPublishesTheImagesExposedPorts()
    {
        var tar = Path.Combine(Path.GetTempPath(), $"incrun-exposed-{Environment.ProcessId}.tar");
        try
        {
            using (var w = new System.Formats.Tar.TarWriter(File.Create(tar), System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: false))
            {
                foreach (var d in new[] { "bin/", "proc/", "dev/", "sys/", "etc/", "tmp/" })
                    w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.Directory, d));
                w.WriteEntry("/bin/busybox", "bin/busybox");
                foreach (var a in new[] { "sh", "mkdir", "httpd", "sleep" })
                    w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.SymbolicLink, $"bin/{a}") { LinkName = "busybox" });
            }
            var import = Run("import", "--change", "EXPOSE 80/tcp", "--change", "CMD [\"sh\"]", tar, "it-exposed:1");
            Assert.That(import.ExitCode, Is.EqualTo(0), import.ToString());
        }
        finally { File.Delete(tar); }
        var (p, _, err) = Start(["--name", "it-exp", "-P", "it-exposed:1", .. Server("exposed")]);
        try
        {
            var r = Run("port", "it-exp");
            Assert.That(r.Stdout, Does.Match(@"^80/tcp -> 0\.0\.0\.0:\d+\n$"), r.ToString());
            Assert.That(Get($"http://127.0.0.1:{r.Stdout.Trim().Split(':')[^1]}/").Trim(), Is.EqualTo("exposed"));
        }
        finally { Stop(p); }
        Assert.That(p.ExitCode, Is.EqualTo(0), err.ToString());
    }

    [Test]
    public void UdpPortIsPublishedInTheKernelsMap()
    {
        int port = FreePort();
        var (p, _, _) = Start(["--name", "it-udp", "-p", $"127.0.0.1:{port}:53/udp", "busybox", .. Server("udp")]);
        try
        {
            Assert.That(Run("port", "it-udp").Stdout.Trim(), Is.EqualTo($"53/udp -> 127.0.0.1:{port}"));
            Assert.That(Incrun.NftTable(), Does.Match($@"127\.0\.0\.1 \. udp \. {port} : 10\.\d+\.\d+\.\d+ \. 53"));
        }
        finally { Stop(p); }
        Assert.That(Incrun.NftTable(), Does.Not.Contain($"udp . {port}"));
    }

    [Test]
    public void ContainersOnAUserNetworkReachEachOtherByNameAndAlias()
    {
        Assert.That(Run("network", "create", "it-app").ExitCode, Is.EqualTo(0));
        try
        {
            var (db, _, err) = Start(["--name", "it-db", "--network", "it-app", "--network-alias", "database", "busybox", .. Server("db-ok", 3306)]);
            try
            {
                var r = Run("run", "--rm", "--network", "it-app", "busybox", "sh", "-c", "wget -qO- http://it-db:3306/; wget -qO- http://database:3306/");
                Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
                Assert.That(r.Stdout, Is.EqualTo("db-ok\ndb-ok\n"));
                var rm = Run("network", "rm", "it-app");
                Assert.That(rm.ExitCode, Is.Not.EqualTo(0));
                Assert.That(rm.Stderr, Does.Contain("has active endpoints"));
            }
            finally { Stop(db); }
            Assert.That(db.ExitCode, Is.EqualTo(0), err.ToString());
        }
        finally { Run("network", "rm", "it-app"); }
        Assert.That(Run("network", "ls").Stdout, Does.Not.Contain("it-app"));
    }

    [Test]
    public void ContainersOnDifferentNetworksCannotReachEachOther()
    {
        Assert.That(Run("network", "create", "it-a").ExitCode, Is.EqualTo(0));
        Assert.That(Run("network", "create", "it-b").ExitCode, Is.EqualTo(0));
        try
        {
            var (srv, _, _) = Start(["--name", "it-srv", "--network", "it-a", "busybox", .. Server("secret")]);
            try
            {
                var ip = AddressOf("it-a", "it-srv");
                var same = Run("run", "--rm", "--network", "it-a", "busybox", "wget", "-qO-", $"http://{ip}/");
                Assert.That(same.Stdout.Trim(), Is.EqualTo("secret"), same.ToString());
                var other = Run("run", "--rm", "--network", "it-b", "busybox", "sh", "-c", $"timeout 3 wget -qO- http://{ip}/; echo rc=$?; ping -c1 -W1 {ip} >/dev/null; echo ping=$?");
                Assert.That(other.Stdout, Does.Not.Contain("secret"));
                Assert.That(other.Stdout, Does.Contain("ping=1"), other.ToString());
                Assert.That(other.Stdout, Does.Not.Contain("rc=0"));
            }
            finally { Stop(srv); }
        }
        finally { Run("network", "rm", "it-a", "it-b"); }
    }

    [Test]
    public void ContainerModeSharesAnotherContainersNetwork()
    {
        var (srv, _, _) = Start(["--name", "it-shared", "busybox", .. Server("shared")]);
        try
        {
            var r = Run("run", "--rm", "--network", "container:it-shared", "busybox", "sh", "-c", "wget -qO- http://127.0.0.1/; ip -4 -o addr show eth0 | wc -l");
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Stdout, Is.EqualTo("shared\n1\n"));
        }
        finally { Stop(srv); }
    }

    [Test]
    public void ParallelStartsGetDistinctAddresses()
    {
        var runs = Enumerable.Range(0, 12).AsParallel().WithDegreeOfParallelism(12)
            .Select(_ => Run("run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0")).ToList();
        foreach (var r in runs) Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var addresses = runs.Select(r => r.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]).ToList();
        Assert.That(addresses, Is.Unique);
    }

    [Test]
    public void BadNetworkInputIsAOneLineErrorAndCreatesNothing()
    {
        int port = FreePort();
        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        (string[] Args, string Error)[] cases =
        [
            (["run", "--rm", "-p", "80:abc", "busybox", "true"], "invalid -p \"80:abc\": invalid port \"abc\""),
            (["run", "--rm", "-p", "1:2:3:4", "busybox", "true"], "too many colons"),
            (["run", "--rm", "--network", "nosuchnet", "busybox", "true"], "network nosuchnet not found"),
            (["run", "--rm", "-p", $"127.0.0.1:{port}:80", "busybox", "true"], $"Bind for 127.0.0.1:{port} failed: port is already allocated"),
            (["run", "--rm", "-p", $"{port}:80", "busybox", "true"], $"Bind for 0.0.0.0:{port} failed: port is already allocated"),
            (["run", "--rm", "--network", "none", "-p", "80", "busybox", "true"], "conflicting options"),
            (["network", "create", "--subnet", "10.70.0.0/33", "it-bad"], "invalid subnet"),
            (["network", "create", "bridge"], "predefined"),
        ];
        foreach (var (args, error) in cases)
        {
            var r = Run(args);
            Assert.That(r.ExitCode, Is.Not.EqualTo(0), string.Join(' ', args));
            Assert.That(r.Stderr, Does.Contain(error), string.Join(' ', args));
            Assert.That(r.Stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), r.Stderr);
        }
        Assert.That(Run("network", "create", "--subnet", "10.70.0.0/24", "it-one").ExitCode, Is.EqualTo(0));
        try
        {
            var overlap = Run("network", "create", "--subnet", "10.70.0.0/16", "it-two");
            Assert.That(overlap.Stderr.Trim(), Is.EqualTo("incrun: invalid subnet 10.70.0.0/16: it overlaps network it-one (10.70.0.0/24)"));
            Assert.That(Run("network", "ls").Stdout, Does.Not.Contain("it-two"));
        }
        finally { Run("network", "rm", "it-one"); }
    }

    [Test]
    public void AKilledRunIsReapedByTheNextCommand()
    {
        int port = FreePort();
        var (p, _, _) = Start(["--name", "it-crash", "-p", $"127.0.0.1:{port}:80", "busybox", .. Server("crash")]);
        Assert.That(Incrun.NftTable(), Does.Contain($"127.0.0.1 . tcp . {port}"));
        p.Kill(); // SIGKILL: incrun cleans up nothing; the kernel kills the container with it
        p.WaitForExit();
        Assert.That(Incrun.NftTable(), Does.Contain($"127.0.0.1 . tcp . {port}"), "the published port outlives a killed incrun until reaped");
        var r = Run("network", "ls");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(Incrun.NftTable(), Does.Not.Contain($". {port} :"));
        // the base class checks that no veth, lease, bridge or nft element is left
    }
}
