using System.Diagnostics;
using System.Runtime.InteropServices;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Network;

/// <summary>
/// incrun's own nftables table, <c>ip incrun</c>. Its rules are fixed; what varies lives in sets and
/// maps, so a network or a container adds and deletes exactly its elements (no rule handles to track):
/// <list type="bullet">
/// <item><c>bridges</c>/<c>subnets</c>: masquerade of a network's outbound traffic; routed traffic
/// between two incrun bridges is dropped (traffic inside one bridge is switched and never routed).</item>
/// <item><c>pub</c> (proto . port) and <c>pubip</c> (host address . proto . port): DNAT of published
/// ports, in prerouting and, for connections from the host itself (127.0.0.1 too), in output; local
/// sources are masqueraded onto the bridge, which has route_localnet.</item>
/// </list>
/// Commands run through libnftables in-process (≈ no fork), else through <c>nft -f -</c>. Every
/// change holds <c>/run/incrun/nft.lock</c>; the table is deleted with the last bridge.
/// </summary>
internal static unsafe class Nftables
{
    public const string Table = "ip incrun";
    const string LockPath = "/run/incrun/nft.lock";

    const string Base = """
        table ip incrun {
          set bridges { type ifname; }
          set samebr { type ifname . ifname; }
          set subnets { type ipv4_addr; flags interval; }
          map pub { type inet_proto . inet_service : ipv4_addr . inet_service; }
          map pubip { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
          chain prerouting {
            type nat hook prerouting priority dstnat; policy accept;
            fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @pubip
            fib daddr type local dnat ip to meta l4proto . th dport map @pub
          }
          chain output {
            type nat hook output priority -100; policy accept;
            fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @pubip
            fib daddr type local dnat ip to meta l4proto . th dport map @pub
          }
          chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            ip saddr @subnets oifname != @bridges masquerade
            oifname @bridges ip saddr 127.0.0.0/8 masquerade
          }
          chain forward {
            type filter hook forward priority filter; policy accept;
            iifname . oifname @samebr accept
            iifname @bridges oifname @bridges drop
            oifname @bridges ct state established,related accept
            oifname @bridges ct status dnat accept
            iifname @bridges accept
          }
          chain guard {
            type filter hook prerouting priority -150; policy accept;
            iifname @bridges ip daddr 127.0.0.0/8 drop
          }
        }
        """;

    /// <summary>Runs nft commands (one atomic batch); returns nft's output. Throws nft's error as one line.</summary>
    public static string Run(string commands)
    {
        if (Lib.Ctx != 0)
        {
            int r;
            var bytes = System.Text.Encoding.UTF8.GetBytes(commands + "\0");
            fixed (byte* b = bytes) r = Lib.RunCmd(Lib.Ctx, b);
            var output = Marshal.PtrToStringUTF8(Lib.GetOutput(Lib.Ctx)) ?? "";
            var error = Marshal.PtrToStringUTF8(Lib.GetError(Lib.Ctx)) ?? "";
            if (r != 0) throw Fail(error);
            return output;
        }
        var psi = new ProcessStartInfo("nft", ["-f", "-"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e) { throw RuntimeError.Plain($"nft: {e.Message} (install the nftables package)"); }
        using (p)
        {
            p.StandardInput.Write(commands);
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw Fail(stderr);
            return stdout.Result;
        }
    }

    static RuntimeError Fail(string error)
    {
        var line = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault(l => l.StartsWith("Error:", StringComparison.Ordinal))
            ?? error.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "failed";
        return RuntimeError.Plain($"nftables: {line}");
    }

    /// <summary>Runs <paramref name="body"/> holding the nftables lock (across incrun processes).</summary>
    public static T Locked<T>(Func<T> body)
    {
        using var _ = FileLock.Exclusive(LockPath);
        return body();
    }

    static string? TryList(string command)
    {
        try { return Run(command); }
        catch (RuntimeError) { return null; }
    }

    /// <summary>Adds a bridge network: the table if missing, then its bridge and subnet.</summary>
    public static void AddNetwork(string bridge, Subnet subnet) => Locked(() =>
    {
        var head = TryList($"list set {Table} bridges") is null ? Base + "\n" : "";
        Run(head + $"add element {Table} bridges {{ \"{bridge}\" }}\nadd element {Table} samebr {{ \"{bridge}\" . \"{bridge}\" }}\nadd element {Table} subnets {{ {subnet} }}\n");
        return 0;
    });

    /// <summary>Removes a network's elements; the table goes with the last bridge.</summary>
    public static void RemoveNetwork(string bridge, Subnet subnet) => Locked(() =>
    {
        var set = TryList($"list set {Table} bridges");
        if (set is null) return 0;
        var cmds = "";
        if (set.Contains($"\"{bridge}\"", StringComparison.Ordinal))
            cmds = $"delete element {Table} bridges {{ \"{bridge}\" }}\ndelete element {Table} samebr {{ \"{bridge}\" . \"{bridge}\" }}\n";
        var subnets = TryList($"list set {Table} subnets") ?? "";
        if (subnets.Contains(subnet.ToString(), StringComparison.Ordinal) || subnets.Contains($" {Ipv4.ToAddress(subnet.Network)}", StringComparison.Ordinal))
            cmds += $"delete element {Table} subnets {{ {subnet} }}\n";
        if (cmds.Length > 0) TryList(cmds);
        var left = TryList($"list set {Table} bridges") ?? "";
        if (!left.Contains("elements", StringComparison.Ordinal)) TryList($"delete table {Table}");
        return 0;
    });

    /// <summary>Publishes ports (one batch); a host port another container publishes already is refused.</summary>
    public static void Publish(IReadOnlyList<PublishedPort> ports, string containerIp)
    {
        if (ports.Count > 0) Locked(() => PublishLocked(ports, containerIp));
    }

    static int PublishLocked(IReadOnlyList<PublishedPort> ports, string containerIp)
    {
        var pub = TryList($"list map {Table} pub") ?? "";
        var pubip = TryList($"list map {Table} pubip") ?? "";
        foreach (var p in ports)
        {
            var key = $"{p.Protocol} . {p.HostPort} :";
            bool taken = pub.Contains(key, StringComparison.Ordinal) ||
                         (p.HostIp is "" or "0.0.0.0" ? pubip.Contains(" . " + key, StringComparison.Ordinal) : pubip.Contains($"{p.HostIp} . {key}", StringComparison.Ordinal));
            if (taken)
                throw RuntimeError.Plain($"Bind for {(p.HostIp is "" ? "0.0.0.0" : p.HostIp)}:{p.HostPort} failed: port is already allocated (published by another container)");
        }
        Run(string.Concat(ports.Select(p => $"add element {Table} {Element(p, containerIp)}\n")));
        return 0;
    }

    public static void Unpublish(IReadOnlyList<PublishedPort> ports, string containerIp) => Locked(() =>
    {
        if (ports.Count == 0 || TryList($"list map {Table} pub") is null) return 0;
        foreach (var p in ports) TryList($"delete element {Table} {Key(p)}\n"); // one by one: a missing one must not stop the rest
        return 0;
    });

    static string Key(PublishedPort p) => p.HostIp is "" or "0.0.0.0"
        ? $"pub {{ {p.Protocol} . {p.HostPort} }}"
        : $"pubip {{ {p.HostIp} . {p.Protocol} . {p.HostPort} }}";

    static string Element(PublishedPort p, string ip) => p.HostIp is "" or "0.0.0.0"
        ? $"pub {{ {p.Protocol} . {p.HostPort} : {ip} . {p.ContainerPort} }}"
        : $"pubip {{ {p.HostIp} . {p.Protocol} . {p.HostPort} : {ip} . {p.ContainerPort} }}";

    /// <summary>libnftables, loaded at first use when present.</summary>
    static class Lib
    {
        public static readonly nint Ctx;
        public static readonly delegate* unmanaged<nint, byte*, int> RunCmd;
        public static readonly delegate* unmanaged<nint, nint> GetOutput;
        public static readonly delegate* unmanaged<nint, nint> GetError;

        static Lib()
        {
            if (Environment.GetEnvironmentVariable("INCRUN_NFT_EXEC") == "1") return;
            if (!NativeLibrary.TryLoad("libnftables.so.1", out var h)) return;
            try
            {
                var ctxNew = (delegate* unmanaged<uint, nint>)NativeLibrary.GetExport(h, "nft_ctx_new");
                var bufOut = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(h, "nft_ctx_buffer_output");
                var bufErr = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(h, "nft_ctx_buffer_error");
                RunCmd = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(h, "nft_run_cmd_from_buffer");
                GetOutput = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(h, "nft_ctx_get_output_buffer");
                GetError = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(h, "nft_ctx_get_error_buffer");
                var ctx = ctxNew(0);
                if (ctx == 0) return;
                bufOut(ctx);
                bufErr(ctx);
                Ctx = ctx;
            }
            catch (EntryPointNotFoundException) { }
        }
    }
}
