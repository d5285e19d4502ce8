using System.CommandLine;
using System.Text.Json.Nodes;
using Inception.Runtime.Errors;
using Inception.Runtime.Logs;
using Inception.Runtime.Run;
using Inception.Runtime.State;

namespace Inception.Runtime.Cli.Commands;

/// <summary>The commands that act on existing containers: ps, start, stop, restart, kill, rm, wait,
/// inspect, logs, pause, unpause, top, rename. Thin: the work is in Run/Lifecycle.</summary>
static class ContainerCommands
{
    public static IEnumerable<Command> Create() =>
        [Ps(), Start(), Stop(), Restart(), Kill(), Rm(), Wait(), Inspect(), Logs(), Pause(), Unpause(), Top(), Rename(), Attach(), Cp()];

    static Lifecycle Life(ParseResult r) => new(r.GetValue(GlobalOptions.Root)!);

    static Argument<string[]> Containers() => new("CONTAINER") { Arity = ArgumentArity.OneOrMore, Description = "Name, ID or unique ID prefix" };

    /// <summary>docker's way with several containers: each one done or reported, exit 1 if any failed.</summary>
    static int ForEach(ParseResult r, Argument<string[]> arg, Action<Lifecycle, ContainerEntry> action, bool echo = true)
    {
        var life = Life(r);
        int status = 0;
        foreach (var key in r.GetValue(arg)!)
        {
            try
            {
                action(life, life.Find(key));
                if (echo) Console.WriteLine(key);
            }
            catch (RuntimeError e)
            {
                Console.Error.WriteLine($"incrun: {e.Message}");
                status = e.ExitCode == 125 ? 1 : e.ExitCode;
            }
        }
        return status;
    }

    static Command Ps()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display container IDs" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var format = new Option<string?>("--format") { Description = "json, or a template such as '{{.Names}}\\t{{.Status}}'" };
        var cmd = new Command("ps", "List containers") { all, quiet, noTrunc, format };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var root = r.GetValue(GlobalOptions.Root)!;
            ContainerDirs.ReapStale(root);
            var list = ContainerStore.List(root).Where(c => r.GetValue(all) || c.State.IsActive).Reverse().ToList();
            bool trunc = !r.GetValue(noTrunc);
            if (r.GetValue(quiet))
            {
                foreach (var c in list) Console.WriteLine(trunc ? c.Id[..12] : c.Id);
                return 0;
            }
            var rows = list.Select(c => PsRow(c, trunc)).ToList();
            if (r.GetValue(format) is { } f)
            {
                foreach (var row in rows) Console.WriteLine(f == "json" ? row.ToJsonString() : Format.Apply(f, row));
                return 0;
            }
            var table = new List<string[]> { new[] { "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES" } };
            table.AddRange(rows.Select(x => new[] { S(x, "ID"), S(x, "Image"), S(x, "Command"), S(x, "RunningFor"), S(x, "Status"), S(x, "Ports"), S(x, "Names") }));
            Humanize.PrintTable(table);
            return 0;
        }));
        return cmd;
    }

    static string S(JsonObject o, string key) => o[key]?.GetValue<string>() ?? "";

    static JsonObject PsRow(ContainerEntry c, bool trunc)
    {
        var s = c.State;
        var command = string.Join(' ', s.Command);
        if (trunc && command.Length > 20) command = command[..19] + "…";
        return new JsonObject
        {
            ["Command"] = $"\"{command}\"",
            ["CreatedAt"] = s.Created.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture),
            ["ID"] = trunc ? c.Id[..12] : c.Id,
            ["Image"] = s.Image,
            ["Names"] = s.Name,
            ["Ports"] = "",
            ["RunningFor"] = Humanize.Duration(DateTime.UtcNow - s.Created) + " ago",
            ["State"] = c.Supervised ? s.Status : s.Status is ContainerState.CreatedStatus ? "created" : "exited",
            ["Status"] = Status(c),
        };
    }

    /// <summary>docker's STATUS column: "Up 3 seconds", "Up 2 minutes (Paused)", "Exited (0) 5 seconds ago", "Created".</summary>
    static string Status(ContainerEntry c)
    {
        var s = c.State;
        var now = DateTime.UtcNow;
        return s.Status switch
        {
            ContainerState.Running when c.Supervised => $"Up {Humanize.Duration(now - (s.StartedAt ?? now))}",
            ContainerState.Paused when c.Supervised => $"Up {Humanize.Duration(now - (s.StartedAt ?? now))} (Paused)",
            ContainerState.Restarting when c.Supervised => $"Restarting ({s.ExitCode}) {Humanize.Duration(now - (s.FinishedAt ?? now))} ago",
            ContainerState.CreatedStatus => "Created",
            ContainerState.Starting when c.Supervised => "Starting",
            _ => $"Exited ({s.ExitCode}) {Humanize.Duration(now - (s.FinishedAt ?? now))} ago",
        };
    }

    static Command Start()
    {
        var attach = new Option<bool>("--attach", "-a") { Description = "Attach STDOUT/STDERR (run in the foreground) and forward signals" };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Attach the container's STDIN" };
        var containers = Containers();
        var cmd = new Command("start", "Start one or more stopped containers") { attach, interactive, containers };
        cmd.SetAction(r => Output.Guard(() =>
        {
            if (r.GetValue(attach))
            {
                var keys = r.GetValue(containers)!;
                if (keys.Length > 1) return Output.Fail("you cannot start and attach multiple containers at once", 1);
                var life = Life(r);
                var outcome = life.StartAttached(life.Find(keys[0]), GlobalOptions.Trace(r));
                return outcome.Message is { } m ? Output.Fail(m, outcome.ExitCode) : outcome.ExitCode;
            }
            return ForEach(r, containers, (l, c) => l.Start(c));
        }));
        return cmd;
    }

    static Option<int?> Time() => new("--time", "-t") { Description = "Seconds to wait before killing the container (default 10)" };

    static Command Stop()
    {
        var time = Time();
        var signal = new Option<string?>("--signal", "-s") { Description = "Signal to send (default: the container's stop signal)" };
        var containers = Containers();
        var cmd = new Command("stop", "Stop one or more running containers") { time, containers };
        cmd.SetAction(r => Output.Guard(() =>
            ForEach(r, containers, (l, c) => l.Stop(c, r.GetValue(time) is { } t ? TimeSpan.FromSeconds(t) : null))));
        return cmd;
    }

    static Command Restart()
    {
        var time = Time();
        var containers = Containers();
        var cmd = new Command("restart", "Restart one or more containers") { time, containers };
        cmd.SetAction(r => Output.Guard(() => ForEach(r, containers, (l, c) =>
        {
            l.Stop(c, r.GetValue(time) is { } t ? TimeSpan.FromSeconds(t) : null);
            l.Start(l.Find(c.Id));
        })));
        return cmd;
    }

    static Command Kill()
    {
        var signal = new Option<string>("--signal", "-s") { Description = "Signal to send (name or number)", DefaultValueFactory = _ => "KILL" };
        var containers = Containers();
        var cmd = new Command("kill", "Kill one or more running containers") { signal, containers };
        cmd.SetAction(r => Output.Guard(() =>
        {
            int sig = Signals.Parse(r.GetValue(signal)!);
            return ForEach(r, containers, (l, c) => l.Kill(c, sig));
        }));
        return cmd;
    }

    static Command Rm()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Force the removal of a running container (uses SIGKILL)" };
        var volumes = new Option<bool>("--volumes", "-v") { Description = "Remove anonymous volumes (incrun has none: accepted for docker compatibility)" };
        var containers = Containers();
        var cmd = new Command("rm", "Remove one or more containers") { force, volumes, containers };
        cmd.SetAction(r => Output.Guard(() => ForEach(r, containers, (l, c) => l.Remove(c, r.GetValue(force)))));
        return cmd;
    }

    static Command Wait()
    {
        var containers = Containers();
        var cmd = new Command("wait", "Block until one or more containers stop, then print their exit codes") { containers };
        cmd.SetAction(r => Output.Guard(() => ForEach(r, containers, (l, c) => Console.WriteLine(l.Wait(c)), echo: false)));
        return cmd;
    }

    static Command Pause()
    {
        var containers = Containers();
        var cmd = new Command("pause", "Pause all processes within one or more containers (cgroup freezer)") { containers };
        cmd.SetAction(r => Output.Guard(() => ForEach(r, containers, (l, c) => l.Pause(c))));
        return cmd;
    }

    static Command Unpause()
    {
        var containers = Containers();
        var cmd = new Command("unpause", "Unpause all processes within one or more containers") { containers };
        cmd.SetAction(r => Output.Guard(() => ForEach(r, containers, (l, c) => l.Unpause(c))));
        return cmd;
    }

    static Command Attach()
    {
        var noStdin = new Option<bool>("--no-stdin") { Description = "Do not attach STDIN" };
        var sigProxy = new Option<bool>("--sig-proxy") { Description = "Proxy received signals to the container (non-TTY)", DefaultValueFactory = _ => true };
        var container = new Argument<string>("CONTAINER");
        var cmd = new Command("attach", "Attach this terminal to a running container's input and output (detach: Ctrl-P Ctrl-Q)") { noStdin, sigProxy, container };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var c = Life(r).Find(r.GetValue(container)!);
            if (!c.Supervised || !c.State.IsActive) return Output.Fail("You cannot attach to a stopped container, start it first", 1);
            var registrations = new List<System.Runtime.InteropServices.PosixSignalRegistration>();
            if (!c.State.Tty && r.GetValue(sigProxy))
                foreach (var sig in new[] { 2, 15, 1 })
                    registrations.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create((System.Runtime.InteropServices.PosixSignal)sig, ctx =>
                    {
                        ctx.Cancel = true;
                        if (ContainerStore.Read(c.Dir)?.Pid is > 0 and var pid) Native.Libc.kill(pid, sig);
                    }));
            try
            {
                var end = Terminal.AttachClient.Run(c.Dir, c.State.Tty, c.State.OpenStdin && !r.GetValue(noStdin));
                if (end == Terminal.AttachClient.End.Detached) return 0;
                ContainerDirs.WaitUnlocked(c.Dir, TimeSpan.FromSeconds(10));
                var state = ContainerStore.Read(c.Dir);
                return state is { IsActive: false } ? state.ExitCode : 0;
            }
            finally { foreach (var reg in registrations) reg.Dispose(); }
        }));
        return cmd;
    }

    static Command Cp()
    {
        var src = new Argument<string>("SRC") { Description = "CONTAINER:PATH or a host path" };
        var dest = new Argument<string>("DEST") { Description = "CONTAINER:PATH or a host path" };
        var cmd = new Command("cp", "Copy files/folders between a running container and the host") { src, dest };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var (from, to) = (r.GetValue(src)!, r.GetValue(dest)!);
            static (string? Container, string Path) SplitArg(string a) =>
                a.IndexOf(':') is var i and > 0 && !a[..i].Contains('/') ? (a[..i], a[(i + 1)..]) : (null, a);
            var (fc, fp) = SplitArg(from);
            var (tc, tp) = SplitArg(to);
            if ((fc is null) == (tc is null))
                return Output.Fail("copying between containers or between host paths is not supported: use CONTAINER:PATH on one side", 1);
            var life = Life(r);
            var c = life.Find(fc ?? tc!);
            if (!c.Supervised || c.State.Pid <= 0 || !c.State.IsActive)
                return Output.Fail($"cp works on running containers only for now: start {c.State.Name} first", 1);
            if (fc is not null) ContainerCopy.OutOf(c.State.Pid, fp, tp);
            else ContainerCopy.Into(c.State.Pid, fp, tp, c.State.UserNs is { } ns ? (ns.HostUid, ns.HostGid) : default);
            return 0;
        }));
        return cmd;
    }

    static Command Rename()
    {
        var container = new Argument<string>("CONTAINER");
        var name = new Argument<string>("NEW_NAME");
        var cmd = new Command("rename", "Rename a container") { container, name };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var life = Life(r);
            life.Rename(life.Find(r.GetValue(container)!), r.GetValue(name)!);
            return 0;
        }));
        return cmd;
    }

    static Command Top()
    {
        var container = new Argument<string>("CONTAINER");
        var cmd = new Command("top", "Display the running processes of a container") { container };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var life = Life(r);
            var pids = life.Processes(life.Find(r.GetValue(container)!));
            var table = new List<string[]> { new[] { "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD" } };
            foreach (var pid in pids.Order())
                if (ProcessRow(pid) is { } row) table.Add(row);
            Humanize.PrintTable(table);
            return 0;
        }));
        return cmd;
    }

    /// <summary>One line of <c>ps -ef</c> for a host pid, read from /proc.</summary>
    static string[]? ProcessRow(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var uid = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
            long ticks = long.Parse(f[11]) + long.Parse(f[12]);
            var cpu = TimeSpan.FromSeconds(ticks / 100.0);
            var bootTime = DateTime.UtcNow - TimeSpan.FromSeconds(double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
            var started = (bootTime + TimeSpan.FromSeconds(long.Parse(f[19]) / 100.0)).ToLocalTime();
            int tty = int.Parse(f[4]);
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' ');
            if (cmdline.Length == 0) cmdline = "[" + stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')] + "]";
            var user = uid == "0" ? "root" : uid;
            return [user, pid.ToString(), f[1], "0", started.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
                tty == 0 ? "?" : $"pts/{tty & 0xff}", $"{(int)cpu.TotalHours:00}:{cpu.Minutes:00}:{cpu.Seconds:00}", cmdline];
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException) { return null; }
    }

    static Command Inspect()
    {
        var format = new Option<string?>("--format", "-f") { Description = "Format with a template, e.g. '{{.State.Status}}'" };
        var containers = Containers();
        var cmd = new Command("inspect", "Display detailed information on one or more containers") { format, containers };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var docs = new JsonArray();
            int status = ForEach(r, containers, (_, c) => docs.Add((JsonNode)InspectDoc(c)), echo: false);
            if (r.GetValue(format) is { } f)
                foreach (var d in docs) Console.WriteLine(Format.Apply(f, d));
            else
                Console.WriteLine(docs.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = JsonNodeContext.Default }));
            return status;
        }));
        return cmd;
    }

    static JsonObject InspectDoc(ContainerEntry c)
    {
        var s = c.State;
        var spec = c.ReadSpec();
        var p = spec?.Process;
        var mem = spec?.Linux?.Resources?.Memory;
        string Time(DateTime? t) => t is { } v ? v.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture) : "0001-01-01T00:00:00Z";
        JsonArray Strings(IEnumerable<string>? items) => new([.. (items ?? []).Select(x => (JsonNode?)JsonValue.Create(x))]);
        bool active = c.Supervised && s.IsActive;
        return new JsonObject
        {
            ["Id"] = c.Id,
            ["Created"] = Time(s.Created),
            ["Path"] = s.Command.FirstOrDefault() ?? "",
            ["Args"] = Strings(s.Command.Skip(1)),
            ["State"] = new JsonObject
            {
                ["Status"] = active ? s.Status : s.Status == ContainerState.CreatedStatus ? "created" : "exited",
                ["Running"] = active && s.Status is ContainerState.Running or ContainerState.Paused,
                ["Paused"] = active && s.Status == ContainerState.Paused,
                ["Restarting"] = active && s.Status == ContainerState.Restarting,
                ["OOMKilled"] = s.OomKilled,
                ["Dead"] = false,
                ["Pid"] = active ? s.Pid : 0,
                ["ExitCode"] = s.ExitCode,
                ["Error"] = s.Error ?? "",
                ["StartedAt"] = Time(s.StartedAt),
                ["FinishedAt"] = Time(s.FinishedAt),
            },
            ["Image"] = s.ImageId ?? "",
            ["ResolvConfPath"] = Path.Combine(c.Dir, "resolv.conf"),
            ["HostnamePath"] = Path.Combine(c.Dir, "hostname"),
            ["HostsPath"] = Path.Combine(c.Dir, "hosts"),
            ["LogPath"] = Path.Combine(c.Dir, Supervisor.LogFile),
            ["Name"] = "/" + s.Name,
            ["RestartCount"] = s.RestartCount,
            ["Driver"] = "overlay",
            ["Platform"] = "linux",
            ["HostConfig"] = new JsonObject
            {
                ["AutoRemove"] = s.AutoRemove,
                ["RestartPolicy"] = new JsonObject { ["Name"] = s.RestartPolicy.Name, ["MaximumRetryCount"] = s.RestartPolicy.MaximumRetryCount },
                ["LogConfig"] = new JsonObject
                {
                    ["Type"] = "json-file",
                    ["Config"] = new JsonObject { ["max-size"] = s.Log.MaxSize > 0 ? s.Log.MaxSize.ToString() : null, ["max-file"] = s.Log.MaxFiles.ToString() },
                },
                ["Memory"] = mem?.Limit ?? 0,
                ["MemorySwap"] = mem?.Swap ?? 0,
                ["PidsLimit"] = spec?.Linux?.Resources?.Pids?.Limit,
                ["CgroupParent"] = Path.GetDirectoryName(c.CgroupsPath),
                ["ReadonlyRootfs"] = spec?.Root?.Readonly ?? false,
                ["CapAdd"] = null,
            },
            ["Mounts"] = new JsonArray([.. (spec?.Mounts ?? [])
                .Where(m => m.Type == "bind" && m.Source is { } src && !src.StartsWith(c.Dir, StringComparison.Ordinal))
                .Select(m => (JsonNode?)new JsonObject
                {
                    ["Type"] = "bind",
                    ["Source"] = m.Source,
                    ["Destination"] = m.Destination,
                    ["Mode"] = "",
                    ["RW"] = !(m.Options?.Contains("ro") ?? false),
                    ["Propagation"] = "rprivate",
                })]),
            ["NetworkSettings"] = NetworkSettings(c, spec),
            ["Config"] = new JsonObject
            {
                ["Hostname"] = spec?.Hostname ?? "",
                ["User"] = p?.User is { } u ? $"{u.Uid}:{u.Gid}" : "",
                ["Tty"] = s.Tty,
                ["OpenStdin"] = s.OpenStdin,
                ["Env"] = Strings(p?.Env),
                ["Cmd"] = Strings(s.Command),
                ["Image"] = s.Image,
                ["WorkingDir"] = p?.Cwd ?? "/",
                ["StopSignal"] = s.StopSignal,
                ["StopTimeout"] = s.StopTimeout,
            },
        };
    }

    /// <summary>docker's NetworkSettings: the container's network namespace mode and addresses.</summary>
    static JsonObject NetworkSettings(ContainerEntry c, Oci.Spec? spec)
    {
        bool ownNetns = spec?.Linux?.Namespaces?.Any(n => n.Type == "network") ?? false;
        return new JsonObject
        {
            ["SandboxKey"] = ownNetns && c.Supervised && c.State.Pid > 0 ? $"/proc/{c.State.Pid}/ns/net" : "",
            ["IPAddress"] = "",
            ["Ports"] = new JsonObject(),
            ["Networks"] = new JsonObject { [ownNetns ? "none" : "host"] = new JsonObject() },
        };
    }

    static Command Logs()
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow log output" };
        var tail = new Option<string>("--tail", "-n") { Description = "Number of lines to show from the end of the logs (or all)", DefaultValueFactory = _ => "all" };
        var timestamps = new Option<bool>("--timestamps", "-t") { Description = "Show timestamps" };
        var since = new Option<string?>("--since") { Description = "Show logs since a timestamp (2024-01-02T13:23:37Z) or relative (42m)" };
        var until = new Option<string?>("--until") { Description = "Show logs before a timestamp or relative time" };
        var container = new Argument<string>("CONTAINER");
        var cmd = new Command("logs", "Fetch the logs of a container") { follow, tail, timestamps, since, until, container };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var c = Life(r).Find(r.GetValue(container)!);
            var path = Path.Combine(c.Dir, Supervisor.LogFile);
            var from = r.GetValue(since) is { } sv ? ParseTime(sv, "since") : DateTime.MinValue;
            var to = r.GetValue(until) is { } uv ? ParseTime(uv, "until") : DateTime.MaxValue;
            var tailText = r.GetValue(tail)!;
            int? keep = tailText == "all" ? null : int.TryParse(tailText, out var n) && n >= 0 ? n
                : throw RuntimeError.Plain($"invalid value for --tail: {tailText}", 1);
            bool ts = r.GetValue(timestamps);
            using var stdout = Console.OpenStandardOutput();
            using var stderr = Console.OpenStandardError();
            void Print(LogEntry e)
            {
                if (e.Time < from || e.Time > to) return;
                var text = ts ? e.Time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z '", System.Globalization.CultureInfo.InvariantCulture) + e.Text : e.Text;
                var bytes = System.Text.Encoding.UTF8.GetBytes(text);
                (e.Stream == "stderr" ? stderr : stdout).Write(bytes);
            }
            var entries = JsonLogReader.ReadAll(path);
            if (keep is { } k) entries = entries.TakeLast(k);
            foreach (var e in entries) Print(e);
            stdout.Flush();
            if (!r.GetValue(follow)) return 0;
            Follow(c.Dir, path, Print, stdout);
            return 0;
        }));
        return cmd;
    }

    /// <summary>-f: prints what is appended to the log (across rotations) until the container stops.</summary>
    static void Follow(string dir, string path, Action<LogEntry> print, Stream stdout)
    {
        long position = File.Exists(path) ? new FileInfo(path).Length : 0;
        var partial = "";
        while (true)
        {
            bool running = ContainerDirs.IsLocked(dir);
            if (File.Exists(path))
            {
                using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (f.Length < position) position = 0;              // rotated
                if (f.Length > position)
                {
                    f.Position = position;
                    var text = partial + new StreamReader(f).ReadToEnd();
                    position = f.Length;
                    var lines = text.Split('\n');
                    partial = lines[^1];
                    foreach (var line in lines[..^1])
                        if (JsonLogReader.Parse(line) is { } e) print(e);
                    stdout.Flush();
                }
            }
            if (!running) return;
            Thread.Sleep(100);
        }
    }

    static DateTime ParseTime(string text, string flag)
    {
        if (DateTime.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
            return t;
        if (long.TryParse(text, out var unix)) return DateTime.UnixEpoch.AddSeconds(unix);
        var units = new Dictionary<char, double> { ['s'] = 1, ['m'] = 60, ['h'] = 3600 };
        if (text.Length > 1 && units.TryGetValue(text[^1], out var mult) &&
            double.TryParse(text[..^1], System.Globalization.CultureInfo.InvariantCulture, out var v))
            return DateTime.UtcNow - TimeSpan.FromSeconds(v * mult);
        throw RuntimeError.Plain($"invalid value for --{flag}: {text} (a timestamp or a duration like 42m)", 1);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
internal sealed partial class JsonNodeContext : System.Text.Json.Serialization.JsonSerializerContext;
