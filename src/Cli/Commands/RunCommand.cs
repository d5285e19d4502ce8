using System.CommandLine;
using Inception.Runtime.Run;

namespace Inception.Runtime.Cli.Commands;

static class RunCommand
{
    static readonly HashSet<string> LongWithValue =
        ["--env", "--env-file", "--workdir", "--user", "--hostname", "--volume", "--entrypoint", "--network", "--net", "--name", "--root",
         "--cap-add", "--cap-drop", "--security-opt", "--memory", "--memory-reservation", "--memory-swap", "--kernel-memory",
         "--cpus", "--cpu-shares", "--cpu-quota", "--cpu-period", "--cpuset-cpus", "--cpuset-mems", "--pids-limit", "--cgroup-parent",
         "--blkio-weight", "--device-read-bps", "--device-write-bps", "--device-read-iops", "--device-write-iops",
         "--ulimit", "--sysctl", "--tmpfs", "--oom-score-adj", "--device", "--restart", "--stop-signal", "--stop-timeout", "--log-opt",
         "--publish", "--network-alias", "--net-alias"];
    const string ShortWithValue = "ewuhvmcp";
    static readonly HashSet<string> ExecLongWithValue = ["--env", "--env-file", "--workdir", "--user", "--detach-keys", "--root"];
    const string ExecShortWithValue = "ewu";

    /// <summary>What follows IMAGE, exactly as typed (set by <see cref="SplitAtImage"/>).</summary>
    internal static string[]? VerbatimCommand { get; set; }

    /// <summary>
    /// docker's rule: options end at IMAGE (for <c>exec</c>: at CONTAINER), and everything after it reaches the container untouched.
    /// The parser would still split bundles (<c>grep -it</c>), <c>--opt=value</c> and drop <c>--</c> after
    /// IMAGE, so the command line is cut after IMAGE here and only the head is parsed.
    /// </summary>
    public static string[] SplitAtImage(string[] args)
    {
        int i = 0;
        for (; i < args.Length && args[i] is not ("run" or "create" or "exec"); i++)
        {
            if (!args[i].StartsWith('-')) return args;     // another command
            if (args[i] == "--root") i++;
        }
        if (i >= args.Length) return args;
        var (longWithValue, shortWithValue) = args[i] == "exec" ? (ExecLongWithValue, ExecShortWithValue) : (LongWithValue, ShortWithValue);
        for (i++; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "--") { i++; break; }
            if (a.Length < 2 || a[0] != '-') break;
            if (a.StartsWith("--"))
            {
                if (!a.Contains('=') && longWithValue.Contains(a)) i++;
                continue;
            }
            for (int k = 1; k < a.Length; k++)
                if (shortWithValue.Contains(a[k]))
                {
                    if (k == a.Length - 1) i++;           // -e VALUE (else -eVALUE)
                    break;
                }
        }
        if (i >= args.Length) return args;                // no IMAGE: the parser reports it
        VerbatimCommand = args[(i + 1)..];
        return args[..(i + 1)];
    }

    /// <summary><c>run</c> (<paramref name="create"/> false) or <c>create</c>: the same flags.</summary>
    public static Command Create(bool create = false)
    {
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Keep STDIN open and pass it to the container" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
        var rm = new Option<bool>("--rm") { Description = "Remove the container when it exits" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Run in the background and print the container ID" };
        var restart = new Option<string?>("--restart") { Description = "Restart policy: no, always, unless-stopped, on-failure[:max-retries]" };
        var stopSignal = new Option<string?>("--stop-signal") { Description = "Signal to stop the container (default SIGTERM or the image's)" };
        var stopTimeout = new Option<int?>("--stop-timeout") { Description = "Seconds to wait for the container to stop before SIGKILL (default 10)" };
        var logOpt = new Option<string[]>("--log-opt") { Description = "Log options: max-size=10m, max-file=3" };
        var name = new Option<string?>("--name") { Description = "Assign a name to the container" };
        var env = new Option<string[]>("--env", "-e") { Description = "Set environment variables (NAME=value, or NAME to copy the host's)" };
        var envFile = new Option<string[]>("--env-file") { Description = "Read in a file of environment variables" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var user = new Option<string?>("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };
        var hostname = new Option<string?>("--hostname", "-h") { Description = "Container host name" };
        var volume = new Option<string[]>("--volume", "-v") { Description = "Bind mount a volume (HOST-PATH:CONTAINER-PATH[:ro])" };
        var entrypoint = new Option<string?>("--entrypoint") { Description = "Overwrite the default ENTRYPOINT of the image" };
        var network = new Option<string>("--network", "--net") { Description = "Connect a container to a network: bridge (default), none, host, container:<name|id>, or a network's name", DefaultValueFactory = _ => "bridge" };
        var publish = new Option<string[]>("--publish", "-p") { Description = "Publish a container's port to the host ([ip:][hostPort:]containerPort[/tcp|udp])" };
        var publishAll = new Option<bool>("--publish-all", "-P") { Description = "Publish all exposed ports to free host ports" };
        var networkAlias = new Option<string[]>("--network-alias", "--net-alias") { Description = "Add a network-scoped alias for the container (user networks)" };
        var readOnly = new Option<bool>("--read-only") { Description = "Mount the container's root filesystem as read only" };
        var capAdd = new Option<string[]>("--cap-add") { Description = "Add Linux capabilities (e.g. SYS_ADMIN, or ALL)" };
        var capDrop = new Option<string[]>("--cap-drop") { Description = "Drop Linux capabilities (e.g. NET_RAW, or ALL)" };
        var privileged = new Option<bool>("--privileged") { Description = "Give the container every capability and no masked or read-only paths" };
        var userns = new Option<string?>("--userns") { Description = "User namespace: host (default), or auto[:size=N] for a private block of host ids (root inside is unprivileged outside)" };
        var securityOpt = new Option<string[]>("--security-opt") { Description = "Security options: no-new-privileges[=true|false]" };
        var memory = new Option<string?>("--memory", "-m") { Description = "Memory limit (e.g. 64m, 1g)" };
        var memoryReservation = new Option<string?>("--memory-reservation") { Description = "Memory soft limit" };
        var memorySwap = new Option<string?>("--memory-swap") { Description = "Memory plus swap limit; -1 for unlimited swap" };
        var kernelMemory = new Option<string?>("--kernel-memory") { Description = "Not supported (the kernel removed it)" };
        var cpus = new Option<string?>("--cpus") { Description = "Number of CPUs (e.g. 0.5)" };
        var cpuShares = new Option<long?>("--cpu-shares", "-c") { Description = "CPU shares (relative weight)" };
        var cpuQuota = new Option<long?>("--cpu-quota") { Description = "Limit CPU CFS quota (microseconds per period)" };
        var cpuPeriod = new Option<long?>("--cpu-period") { Description = "Limit CPU CFS period (microseconds)" };
        var cpusetCpus = new Option<string?>("--cpuset-cpus") { Description = "CPUs in which to allow execution (0-3, 0,1)" };
        var cpusetMems = new Option<string?>("--cpuset-mems") { Description = "Memory nodes in which to allow execution" };
        var pidsLimit = new Option<long?>("--pids-limit") { Description = "Tune container pids limit (-1 for unlimited)" };
        var oomKillDisable = new Option<bool>("--oom-kill-disable") { Description = "Disable the OOM killer (cgroup v1 only)" };
        var cgroupParent = new Option<string?>("--cgroup-parent") { Description = "Parent cgroup for the container (default incrun)" };
        var blkioWeight = new Option<long?>("--blkio-weight") { Description = "Block IO relative weight, 10 to 1000" };
        var readBps = new Option<string[]>("--device-read-bps") { Description = "Limit read rate from a device (e.g. /dev/sda:1mb)" };
        var writeBps = new Option<string[]>("--device-write-bps") { Description = "Limit write rate to a device" };
        var readIops = new Option<string[]>("--device-read-iops") { Description = "Limit read operations per second from a device" };
        var writeIops = new Option<string[]>("--device-write-iops") { Description = "Limit write operations per second to a device" };
        var ulimit = new Option<string[]>("--ulimit") { Description = "Ulimit options (e.g. nofile=1024:2048)" };
        var sysctl = new Option<string[]>("--sysctl") { Description = "Namespaced kernel parameters (e.g. net.ipv4.ip_forward=1)" };
        var tmpfs = new Option<string[]>("--tmpfs") { Description = "Mount a tmpfs directory (e.g. /run:rw,size=64m)" };
        var oomScoreAdj = new Option<int?>("--oom-score-adj") { Description = "Tune the host's OOM preferences (-1000 to 1000)" };
        var device = new Option<string[]>("--device") { Description = "Add a host device to the container (HOST[:CONTAINER][:rwm])" };
        var image = new Argument<string>("IMAGE") { Description = "The image to run" };
        var command = new Argument<string[]>("COMMAND") { Description = "Command and arguments (options end at IMAGE)", Arity = ArgumentArity.ZeroOrMore, CaptureRemainingTokens = true };

        image.Validators.Add(a =>
        {
            if (a.Tokens.FirstOrDefault()?.Value is { Length: > 1 } t && t[0] == '-') a.AddError($"unknown flag: {t}");
        });

        var cmd = new Command(create ? "create" : "run", create ? "Create a new container (start it with incrun start)" : "Create and run a new container from an image")
        {
            interactive, tty, rm, restart, stopSignal, stopTimeout, logOpt, name, env, envFile, workdir, user, hostname, volume, entrypoint, network, publish, publishAll, networkAlias, readOnly,
            capAdd, capDrop, privileged, userns, securityOpt, memory, memoryReservation, memorySwap, kernelMemory, cpus, cpuShares,
            cpuQuota, cpuPeriod, cpusetCpus, cpusetMems, pidsLimit, oomKillDisable, cgroupParent, blkioWeight, readBps, writeBps,
            readIops, writeIops, ulimit, sysctl, tmpfs, oomScoreAdj, device, image, command,
        };
        cmd.SetAction(r => Output.Guard(() =>
        {
            if (!create && !r.GetValue(detach) && r.GetValue(tty) && r.GetValue(interactive) && Native.Libc.isatty(0) != 1)
                return Output.Fail("the input device is not a TTY");
            var options = new RunOptions
            {
                Image = r.GetValue(image)!,
                Command = VerbatimCommand ?? r.GetValue(command) ?? [],
                Interactive = r.GetValue(interactive),
                Tty = r.GetValue(tty),
                Remove = r.GetValue(rm),
                Name = r.GetValue(name),
                Env = r.GetValue(env) ?? [],
                EnvFiles = r.GetValue(envFile) ?? [],
                Workdir = r.GetValue(workdir),
                User = r.GetValue(user),
                Hostname = r.GetValue(hostname),
                Volumes = r.GetValue(volume) ?? [],
                Entrypoint = r.GetValue(entrypoint),
                Network = r.GetValue(network)!,
                Publish = r.GetValue(publish) ?? [],
                PublishAll = r.GetValue(publishAll),
                NetworkAliases = r.GetValue(networkAlias) ?? [],
                ReadOnly = r.GetValue(readOnly),
                CapAdd = r.GetValue(capAdd) ?? [],
                CapDrop = r.GetValue(capDrop) ?? [],
                Privileged = r.GetValue(privileged),
                Userns = r.GetValue(userns),
                SecurityOpts = r.GetValue(securityOpt) ?? [],
                Ulimits = r.GetValue(ulimit) ?? [],
                Sysctls = r.GetValue(sysctl) ?? [],
                Tmpfs = r.GetValue(tmpfs) ?? [],
                OomScoreAdj = r.GetValue(oomScoreAdj),
                Devices = r.GetValue(device) ?? [],
                Restart = r.GetValue(restart),
                StopSignal = r.GetValue(stopSignal),
                StopTimeout = r.GetValue(stopTimeout),
                LogOpts = r.GetValue(logOpt) ?? [],
                PullProgress = TransferProgress.For(Console.Error, 2, quiet: false),
                Resources = new ResourceFlags
                {
                    Memory = r.GetValue(memory), MemoryReservation = r.GetValue(memoryReservation), MemorySwap = r.GetValue(memorySwap),
                    KernelMemory = r.GetValue(kernelMemory), Cpus = r.GetValue(cpus), CpuShares = r.GetValue(cpuShares),
                    CpuQuota = r.GetValue(cpuQuota), CpuPeriod = r.GetValue(cpuPeriod), CpusetCpus = r.GetValue(cpusetCpus),
                    CpusetMems = r.GetValue(cpusetMems), PidsLimit = r.GetValue(pidsLimit), OomKillDisable = r.GetValue(oomKillDisable),
                    CgroupParent = r.GetValue(cgroupParent), BlkioWeight = r.GetValue(blkioWeight),
                    DeviceReadBps = r.GetValue(readBps) ?? [], DeviceWriteBps = r.GetValue(writeBps) ?? [],
                    DeviceReadIops = r.GetValue(readIops) ?? [], DeviceWriteIops = r.GetValue(writeIops) ?? [],
                },
            };
            var runner = new ContainerRunner(r.GetValue(GlobalOptions.Root)!, GlobalOptions.Trace(r));
            if (create)
            {
                using var dirs = runner.Create(options);
                Console.WriteLine(dirs.Id);
                return 0;
            }
            if (r.GetValue(detach))
            {
                Console.WriteLine(runner.RunDetached(options));
                return 0;
            }
            var outcome = runner.Run(options);
            return outcome.Message is { } message ? Output.Fail(message, outcome.ExitCode) : outcome.ExitCode;
        }));
        if (!create) cmd.Options.Add(detach);
        return cmd;
    }
}
