using System.CommandLine;
using System.Text.Json;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.OciRuntime;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Cli.Commands;

/// <summary>
/// The runc-compatible command line (`incrun-oci VERB`, or `incrun oci VERB`): the verbs and flags
/// engines (conmon/podman, the containerd shim) use, over <see cref="OciLifecycle"/>. Errors: one line on
/// stderr and in --log, exit status 1.
/// </summary>
static class OciCommand
{
    public const string ProgramName = "incrun-oci";

    /// <summary>Whether this invocation is the OCI runtime: argv[0] named incrun-oci, or `incrun oci …`.</summary>
    public static bool Matches(string[] args, out string[] ociArgs)
    {
        var argv0 = Environment.GetCommandLineArgs().FirstOrDefault() ?? "";
        if (Path.GetFileName(argv0) == ProgramName) { ociArgs = args; return true; }
        if (args.Length > 0 && args[0] == "oci") { ociArgs = args[1..]; return true; }
        ociArgs = [];
        return false;
    }

    static readonly Option<string> Root = new("--root")
    {
        Description = "Directory for the containers' state (default $INCRUN_OCI_ROOT, else /run/incrun-oci)", Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("INCRUN_OCI_ROOT") is { Length: > 0 } r ? r : "/run/incrun-oci",
    };
    static readonly Option<string?> Log = new("--log") { Description = "Append errors (and --debug messages) to this file", Recursive = true };
    static readonly Option<string> LogFormat = new("--log-format")
    {
        Description = "text or json (json lines {\"level\",\"msg\",\"time\"})", Recursive = true, DefaultValueFactory = _ => "text",
    };
    static readonly Option<bool> Debug = new("--debug") { Description = "Log debug messages", Recursive = true };
    static readonly Option<bool> SystemdCgroup = new("--systemd-cgroup")
    {
        Description = "cgroupsPath is slice:prefix:name (mapped to cgroupfs; systemd is not asked)", Recursive = true,
    };
    static readonly Option<string?> Rootless = new("--rootless") { Description = "Accepted for runc compatibility (incrun-oci runs as root)", Recursive = true };
    static readonly Option<string?> Criu = new("--criu") { Description = "Accepted for runc compatibility (no checkpointing)", Recursive = true };

    public static int Invoke(string[] args)
    {
        // --version / -v before any verb (runc's output shape: engines read the first line).
        if (args.TakeWhile(a => a.StartsWith('-')).Any(a => a is "--version" or "-v"))
        {
            Console.WriteLine($"{ProgramName} version {VersionCommand.Version}\nspec: 1.2.0\nruntime: incrun (NativeAOT, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription})");
            return 0;
        }
        // RootCommand's constructor finds the executable's name and its help option's text through
        // reflection (~0.5 ms of every engine call); a plain root parses the same when no help is asked for.
        const string about = "incrun-oci: a runc-compatible OCI runtime (the incrun container core)";
        Command root = args.Any(a => a is "-h" or "--help" or "-?" or "/h" or "/?") ? new RootCommand(about) : new Command(ProgramName, about);
        foreach (var v in root.Options.OfType<System.CommandLine.VersionOption>().ToList()) root.Options.Remove(v);
        foreach (var o in new Option[] { Root, Log, LogFormat, Debug, SystemdCgroup, Rootless, Criu }) root.Options.Add(o);
        foreach (var c in Verbs()) root.Subcommands.Add(c);

        var result = root.Parse(args);
        Configure(result);
        if (result.Errors.Count > 0)
            return OciLog.Error($"{result.Errors[0].Message} (see '{ProgramName} --help')");
        return result.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
    }

    static void Configure(ParseResult r)
    {
        OciLog.File = r.GetValue(Log) is { Length: > 0 } f ? Path.GetFullPath(f) : null;
        OciLog.Json = r.GetValue(LogFormat) == "json";
        OciLog.Debug = r.GetValue(Debug);
    }

    static OciLifecycle Runtime(ParseResult r) => new(Path.GetFullPath(r.GetValue(Root)!), NoTrace.Instance, OciLog.Warn);

    /// <summary>Runs a verb: root required; RuntimeErrors become one line and exit status 1 (or theirs).</summary>
    static int Guard(ParseResult r, Func<OciLifecycle, int> body)
    {
        if (Libc.geteuid() != 0) return OciLog.Error("permission denied: incrun-oci needs root");
        OciLog.Info($"{ProgramName} {string.Join(' ', r.Tokens.Select(t => t.Value))}");
        try { return body(Runtime(r)); }
        catch (RuntimeError e) { return OciLog.Error(e.Message, e.ExitCode == 125 ? 1 : e.ExitCode); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return OciLog.Error(RuntimeError.IoMessage(e)); }
    }

    static Argument<string> Id() => new("container-id") { Description = "The container's id" };

    static IEnumerable<Command> Verbs()
    {
        yield return Create();
        yield return Run();
        yield return Simple("start", "Start the process of a created container", (rt, id) => rt.Start(id));
        yield return State();
        yield return Kill();
        yield return Delete();
        yield return List();
        yield return Ps();
        yield return Simple("pause", "Freeze every process of the container", (rt, id) => rt.Pause(id));
        yield return Simple("resume", "Thaw a paused container", (rt, id) => rt.Resume(id));
        yield return Events();
        yield return Update();
        yield return Spec();
        yield return Features();
        yield return Exec();
    }

    sealed record CreateFlags(Option<string> Bundle, Option<string?> ConsoleSocket, Option<string?> PidFile, Option<int> PreserveFds,
        Option<bool> NoPivot, Option<bool> NoNewKeyring, Argument<string> Id)
    {
        public static CreateFlags Add(Command cmd)
        {
            var f = new CreateFlags(
                new Option<string>("--bundle", "-b") { Description = "The bundle directory (config.json + rootfs)", DefaultValueFactory = _ => "." },
                new Option<string?>("--console-socket") { Description = "UNIX socket that receives the pty master (SCM_RIGHTS)" },
                new Option<string?>("--pid-file") { Description = "Write the container's pid to this file" },
                new Option<int>("--preserve-fds") { Description = "Pass fds 3..3+N-1 on to the container's process" },
                new Option<bool>("--no-pivot") { Description = "Accepted; incrun always uses pivot_root" },
                new Option<bool>("--no-new-keyring") { Description = "Accepted; incrun makes no session keyring" },
                OciCommand.Id());
            cmd.Options.Add(f.Bundle); cmd.Options.Add(f.ConsoleSocket); cmd.Options.Add(f.PidFile); cmd.Options.Add(f.PreserveFds);
            cmd.Options.Add(f.NoPivot); cmd.Options.Add(f.NoNewKeyring); cmd.Arguments.Add(f.Id);
            return f;
        }

        public CreateOptions Read(ParseResult r)
        {
            if (r.GetValue(PreserveFds) < 0) throw RuntimeError.Plain("--preserve-fds must not be negative", 1);
            return new CreateOptions(r.GetValue(Id)!, r.GetValue(Bundle)!, r.GetValue(PidFile), r.GetValue(ConsoleSocket),
                r.GetValue(PreserveFds), r.GetValue(SystemdCgroup));
        }
    }

    static Command Create()
    {
        var cmd = new Command("create", "Create a container: set up everything, then wait for `start`");
        var f = CreateFlags.Add(cmd);
        cmd.SetAction(r => Guard(r, rt => { rt.Create(f.Read(r)); return 0; }));
        return cmd;
    }

    static Command Run()
    {
        var cmd = new Command("run", "Create and start a container; in the foreground, wait and return its exit status");
        var f = CreateFlags.Add(cmd);
        var detach = new Option<bool>("--detach", "-d") { Description = "Return once the container runs" };
        var keep = new Option<bool>("--keep") { Description = "Accepted; the container is always deleted after a foreground run" };
        cmd.Options.Add(detach);
        cmd.Options.Add(keep);
        cmd.SetAction(r => Guard(r, rt => rt.Run(f.Read(r), r.GetValue(detach))));
        return cmd;
    }

    static Command Simple(string name, string description, Action<OciLifecycle, string> action)
    {
        var id = Id();
        var cmd = new Command(name, description) { id };
        cmd.SetAction(r => Guard(r, rt => { action(rt, r.GetValue(id)!); return 0; }));
        return cmd;
    }

    static Command State()
    {
        var id = Id();
        var cmd = new Command("state", "Print the container's OCI state (JSON)") { id };
        cmd.SetAction(r => Guard(r, rt =>
        {
            Console.WriteLine(rt.State(r.GetValue(id)!).ToJsonString());
            return 0;
        }));
        return cmd;
    }

    static Command Kill()
    {
        var id = Id();
        var signal = new Argument<string>("signal") { Description = "Name (TERM, SIGKILL) or number", DefaultValueFactory = _ => "SIGTERM" };
        var all = new Option<bool>("--all", "-a") { Description = "Signal every process of the container's cgroup" };
        var cmd = new Command("kill", "Send a signal to the container's process") { id, signal, all };
        cmd.SetAction(r => Guard(r, rt =>
        {
            rt.Kill(r.GetValue(id)!, OciContainer.ParseSignal(r.GetValue(signal)!), r.GetValue(all));
            return 0;
        }));
        return cmd;
    }

    static Command Delete()
    {
        var id = Id();
        var force = new Option<bool>("--force", "-f") { Description = "Kill a running container first" };
        var cmd = new Command("delete", "Remove a stopped container's cgroup and state (runs poststop hooks)") { id, force };
        cmd.SetAction(r => Guard(r, rt => { rt.Delete(r.GetValue(id)!, r.GetValue(force)); return 0; }));
        return cmd;
    }

    static Command List()
    {
        var format = new Option<string>("--format", "-f") { Description = "table or json", DefaultValueFactory = _ => "table" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only the ids" };
        var cmd = new Command("list", "List the containers under --root") { format, quiet };
        cmd.Aliases.Add("ls");
        cmd.SetAction(r => Guard(r, rt =>
        {
            var states = rt.List();
            if (r.GetValue(quiet)) { foreach (var s in states) Console.WriteLine(s.Id); return 0; }
            if (r.GetValue(format) == "json") { Console.WriteLine(JsonSerializer.Serialize(states, OciRuntimeJson.Default.ListOciState)); return 0; }
            var table = new List<string[]> { new[] { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" } };
            table.AddRange(states.Select(s => new[] { s.Id, s.Pid.ToString(), s.Status, s.Bundle, s.Created.ToString("o"), s.Owner }));
            Humanize.PrintTable(table);
            return 0;
        }));
        return cmd;
    }

    static Command Ps()
    {
        var id = Id();
        var format = new Option<string>("--format", "-f") { Description = "table or json (the pids)", DefaultValueFactory = _ => "table" };
        var psArgs = new Argument<string[]>("ps-args") { Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("ps", "The processes of the container (its cgroup)") { id, format, psArgs };
        cmd.SetAction(r => Guard(r, rt =>
        {
            var pids = rt.Pids(r.GetValue(id)!);
            if (r.GetValue(format) == "json") { Console.WriteLine(JsonSerializer.Serialize(pids, OciRuntimeJson.Default.ListInt32)); return 0; }
            var table = new List<string[]> { new[] { "PID", "CMD" } };
            foreach (var pid in pids)
            {
                string cmdline;
                try { cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
                catch (IOException) { continue; }
                table.Add([pid.ToString(), cmdline]);
            }
            Humanize.PrintTable(table);
            return 0;
        }));
        return cmd;
    }

    static Command Events()
    {
        var id = Id();
        var stats = new Option<bool>("--stats") { Description = "Print one stats event and exit" };
        var interval = new Option<string>("--interval") { Description = "Time between stats events", DefaultValueFactory = _ => "5s" };
        var cmd = new Command("events", "Stats of the container's cgroup as JSON events") { id, stats, interval };
        cmd.SetAction(r => Guard(r, rt =>
        {
            var cid = r.GetValue(id)!;
            var period = ParseInterval(r.GetValue(interval)!);
            while (true)
            {
                var s = rt.Stats(cid);
                using (var w = new Utf8JsonWriter(Console.OpenStandardOutput()))
                {
                    w.WriteStartObject();
                    w.WriteString("type", "stats");
                    w.WriteString("id", cid);
                    w.WriteStartObject("data");
                    w.WriteStartObject("cpu"); w.WriteStartObject("usage"); w.WriteNumber("total", s.CpuNanoseconds); w.WriteEndObject(); w.WriteEndObject();
                    w.WriteStartObject("memory"); w.WriteStartObject("usage");
                    w.WriteNumber("usage", s.MemoryUsage); w.WriteNumber("limit", s.MemoryLimit); w.WriteEndObject(); w.WriteEndObject();
                    w.WriteStartObject("pids"); w.WriteNumber("current", s.Pids); w.WriteEndObject();
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                Console.WriteLine();
                if (r.GetValue(stats)) return 0;
                Thread.Sleep(period);
            }
        }));
        return cmd;
    }

    static TimeSpan ParseInterval(string s)
    {
        if (s.EndsWith("ms") && int.TryParse(s[..^2], out var ms)) return TimeSpan.FromMilliseconds(ms);
        if (s.EndsWith('s') && double.TryParse(s[..^1], System.Globalization.CultureInfo.InvariantCulture, out var sec)) return TimeSpan.FromSeconds(sec);
        throw RuntimeError.Plain($"--interval \"{s}\": expected e.g. 5s or 500ms", 1);
    }

    static Command Update()
    {
        var id = Id();
        var resources = new Option<string?>("--resources", "-r") { Description = "linux.resources JSON file ('-' for stdin)" };
        var memory = new Option<string?>("--memory") { Description = "Memory limit (bytes, or 64m)" };
        var pids = new Option<long?>("--pids-limit") { Description = "Maximum number of processes" };
        var cpuQuota = new Option<long?>("--cpu-quota") { Description = "CFS quota (µs per period)" };
        var cpuPeriod = new Option<ulong?>("--cpu-period") { Description = "CFS period (µs)" };
        var cmd = new Command("update", "Change the container's cgroup limits") { id, resources, memory, pids, cpuQuota, cpuPeriod };
        cmd.SetAction(r => Guard(r, rt =>
        {
            LinuxResources res;
            if (r.GetValue(resources) is { } file)
                res = OciLifecycle.ParseResources(file == "-" ? ReadStdin() : File.ReadAllBytes(file));
            else res = new LinuxResources();
            if (r.GetValue(memory) is { } m) (res.Memory ??= new()).Limit = Inception.Runtime.Run.ResourceParser.ParseSize("--memory", m);
            if (r.GetValue(pids) is { } p) res.Pids = new LinuxPids { Limit = p };
            if (r.GetValue(cpuQuota) is { } q) (res.Cpu ??= new()).Quota = q;
            if (r.GetValue(cpuPeriod) is { } per) (res.Cpu ??= new()).Period = per;
            rt.Update(r.GetValue(id)!, res);
            return 0;
        }));
        return cmd;
    }

    static byte[] ReadStdin()
    {
        using var ms = new MemoryStream();
        Console.OpenStandardInput().CopyTo(ms);
        return ms.ToArray();
    }

    static Command Spec()
    {
        var bundle = new Option<string>("--bundle", "-b") { Description = "Where to write config.json", DefaultValueFactory = _ => "." };
        var cmd = new Command("spec", "Write a default config.json (sh on a terminal, rootfs ./rootfs)") { bundle };
        cmd.SetAction(r =>
        {
            try
            {
                var path = Path.Combine(r.GetValue(bundle)!, "config.json");
                if (File.Exists(path)) return OciLog.Error($"{path} exists: remove it first");
                File.WriteAllBytes(path, SpecWriter.Write(SpecTemplate.Default()));
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return OciLog.Error(RuntimeError.IoMessage(e)); }
        });
        return cmd;
    }

    static Command Features()
    {
        var cmd = new Command("features", "Print the OCI features document: what this runtime supports");
        cmd.SetAction(_ =>
        {
            using var stdout = Console.OpenStandardOutput();
            stdout.Write(SpecTemplate.Features());
            stdout.Write("\n"u8);
            return 0;
        });
        return cmd;
    }

    static Command Exec()
    {
        var id = Id();
        var rest = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore, CaptureRemainingTokens = true, Description = "The command and its arguments (without --process; options end at the container id)" };
        var process = new Option<string?>("--process", "-p") { Description = "process.json: the OCI process to run (replaces the command and the flags below)" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Return once the process runs" };
        var pidFile = new Option<string?>("--pid-file") { Description = "Write the process's pid to this file" };
        var consoleSocket = new Option<string?>("--console-socket") { Description = "UNIX socket that receives the pty master (SCM_RIGHTS)" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Give the process a terminal" };
        var cwd = new Option<string?>("--cwd") { Description = "Working directory in the container (default: the container's)" };
        var env = new Option<string[]>("--env", "-e") { Description = "Set an environment variable (NAME=VALUE)", AllowMultipleArgumentsPerToken = false };
        var user = new Option<string?>("--user", "-u") { Description = "UID[:GID] to run as (default: the container's user)" };
        var cap = new Option<string[]>("--cap", "-c") { Description = "Add a capability (CAP_NET_ADMIN)" };
        var noNewPrivs = new Option<bool>("--no-new-privs") { Description = "Set no_new_privs for the process" };
        var cmd = new Command("exec", "Run a process in a running container")
        {
            id, rest, process, detach, pidFile, consoleSocket, tty, cwd, env, user, cap, noNewPrivs,
        };
        cmd.SetAction(r => Guard(r, rt =>
        {
            var cid = r.GetValue(id)!;
            var args = r.GetValue(rest) ?? [];
            Process p;
            if (r.GetValue(process) is { } file)
            {
                if (args.Length > 0) throw RuntimeError.Plain("exec: give either --process or a command, not both", 1);
                byte[] json;
                try { json = file == "-" ? ReadStdin() : File.ReadAllBytes(file); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw RuntimeError.Plain($"cannot read {file}: {RuntimeError.IoText(e)}", 1);
                }
                p = OciLifecycle.ParseProcess(json, file);
            }
            else
            {
                p = rt.ExecProcessFrom(cid, args, r.GetValue(tty), r.GetValue(cwd), r.GetValue(env) ?? [], r.GetValue(user),
                    r.GetValue(cap) ?? [], r.GetValue(noNewPrivs));
            }
            return rt.Exec(new OciExecOptions(cid, p, r.GetValue(detach), r.GetValue(pidFile), r.GetValue(consoleSocket)));
        }));
        return cmd;
    }
}
