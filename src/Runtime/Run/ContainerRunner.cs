using System.Text.Json;
using Inception.Runtime.Cgroups;
using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Images;
using Inception.Runtime.Native;
using Inception.Runtime.Network;
using Inception.Runtime.Oci;
using Inception.Runtime.State;
using Inception.Runtime.Terminal;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Run;

/// <summary>
/// <c>incrun run</c> and <c>incrun create</c>: image + flags → OCI spec → the container core. In the
/// foreground this process supervises the container itself (stdio passed straight through with --rm,
/// otherwise relayed to the terminal and the log); with -d a supervisor process of its own does.
/// </summary>
internal sealed class ContainerRunner(string stateRoot, ITrace trace)
{
    /// <summary>Runs a container in the foreground until it exits.</summary>
    public Outcome Run(RunOptions o)
    {
        o = Check(o);
        ContainerDirs.ReapStale(stateRoot);
        var layout = CgroupLayout.Detect();
        var dirs = NewContainer(ref o, starting: true);
        try
        {
            // init is cloned before the image is read: its runtime starts up while the spec is written
            var final = o;
            var plan = new StartPlan(SpecGenerator.Namespaces(o, layout), SpecGenerator.Resources(o),
                ResourceParser.CgroupsPath(o.Resources, dirs.Id), () => WriteSpec(final, dirs, layout), o.Tty, o.Interactive,
                o.IdRange is { } r ? new IdMappings(r.UidMappings(), r.GidMappings()) : null);
            return new Supervisor(stateRoot, dirs, trace).RunOnce(plan, o.Remove ? StdioMode.Direct : StdioMode.Echo, null);
        }
        finally
        {
            if (o.Remove) dirs.Delete();
            else dirs.Dispose();
        }
    }

    /// <summary><c>incrun create</c>: the container's directory, spec and state ("created"); returns its
    /// directory, still locked.</summary>
    public ContainerDirs Create(RunOptions o, bool starting = false)
    {
        o = Check(o);
        ContainerDirs.ReapStale(stateRoot);
        var dirs = NewContainer(ref o, starting);
        try
        {
            WriteSpec(o, dirs, CgroupLayout.Detect());
            return dirs;
        }
        catch
        {
            dirs.Delete();
            throw;
        }
    }

    /// <summary><c>incrun run -d</c>: create, then hand the container to a supervisor process. Returns the id.</summary>
    public string RunDetached(RunOptions o)
    {
        var dirs = Create(o, starting: true);
        try
        {
            SupervisorProcess.Launch(dirs);
            return dirs.Id;
        }
        finally { dirs.Dispose(); }
    }

    /// <summary>Checks the flags; resolves --network container:NAME to that container's namespace.</summary>
    RunOptions Check(RunOptions o)
    {
        SpecGenerator.Validate(o);
        // as docker: a missing image is pulled before anything of the container exists
        Images.Registry.ImagePuller.ResolveOrPull(stateRoot, o.Image, o.PullProgress);
        var policy = RestartPolicy.Parse(o.Restart);
        if (o.Remove && policy.Name != "no") throw RuntimeError.Plain("Conflicting options: --restart and --rm");
        if (o.StopSignal is { } sig) Signals.Parse(sig);
        ParseLogOptions(o.LogOpts);
        return o.Network.StartsWith("container:", StringComparison.Ordinal)
            ? o with { NetnsPath = ContainerNetwork.JoinedNetnsPath(stateRoot, o.Network) }
            : o;
    }

    /// <summary>The directory and the first state of a new container, its name checked and taken
    /// under the store's name lock.</summary>
    /// <param name="starting">the container is started right away: its first status is "starting"</param>
    ContainerDirs NewContainer(ref RunOptions o, bool starting)
    {
        var id = ContainerDirs.NewId();
        using var _ = ContainerStore.LockNames(stateRoot);
        var name = ContainerStore.ChooseName(stateRoot, o.Name, id);
        // --userns=auto: a block of host ids no other container holds (taken under the same store lock)
        if (Security.UserNamespaces.Parse(o.Userns) is { } size)
            o = o with { IdRange = Security.UserNamespaces.Allocate(size, ContainerStore.List(stateRoot).Select(e => e.State.UserNs).OfType<Security.UserRange>()) };
        var dirs = ContainerDirs.Create(stateRoot, id);
        try
        {
            ContainerStore.Write(dirs.Path, new ContainerState
            {
                Id = id, Name = name, Image = o.Image, Created = DateTime.UtcNow,
                Status = starting ? ContainerState.Starting : ContainerState.CreatedStatus,
                RestartPolicy = RestartPolicy.Parse(o.Restart), AutoRemove = o.Remove, Tty = o.Tty, OpenStdin = o.Interactive,
                StopSignal = o.StopSignal is { } s ? Signals.Name(Signals.Parse(s)) : "SIGTERM", StopTimeout = o.StopTimeout,
                Log = ParseLogOptions(o.LogOpts),
                UserNs = o.IdRange,
            });
            return dirs;
        }
        catch
        {
            dirs.Delete();
            throw;
        }
    }

    /// <summary>Builds the spec from the image and flags, writes config.json and the /etc files.</summary>
    Spec WriteSpec(RunOptions o, ContainerDirs dirs, CgroupLayout layout)
    {
        var paths = new ContainerPaths(dirs.Rootfs, dirs.Upper, dirs.Work, dirs.File("hostname"), dirs.File("hosts"), dirs.File("resolv.conf"));
        var image = new ImageStore(stateRoot).Resolve(o.Image);
        var c = image.Config.Config;
        var defaults = new ImageDefaults
        {
            Env = c.Env ?? [], Entrypoint = c.Entrypoint, Cmd = c.Cmd, WorkingDir = c.WorkingDir, User = c.User,
            ExposedPorts = c.ExposedPorts?.Keys.ToList() ?? [],
        };
        var spec = SpecGenerator.Generate(o with { Name = ContainerStore.Read(dirs.Path)?.Name ?? o.Name }, defaults, image.LayerDirs, dirs.Id, paths,
            p => ImageStore.ReadFile(image, p), o.Tty ? PtySession.HostSize() : null, Environment.GetEnvironmentVariable, layout);
        WriteEtcFiles(paths, spec.Hostname!, o.Network);
        // The OCI document of the container, for people and later commands (start, restart, inspect).
        File.WriteAllBytes(dirs.File("config.json"), SpecWriter.Write(spec));
        if (trace.Enabled)
            trace.Step("write", $"\"{dirs.File("config.json")}\"", 0,
                $"The OCI runtime spec of container {dirs.Id[..12]} (image {o.Image}); init gets the same spec over its sync socket.");
        ContainerStore.Update(dirs.Path, s =>
        {
            s.Command = [.. spec.Process?.Args ?? []];
            s.ImageId = image.Id;
            s.Network = SpecGenerator.NetworkRequest(o, spec);
            if (o.StopSignal is null && c.StopSignal is { Length: > 0 } imageSignal) s.StopSignal = Signals.Name(Signals.Parse(imageSignal));
        });
        return spec;
    }

    static LogOptions ParseLogOptions(IReadOnlyList<string> opts)
    {
        var log = new LogOptions();
        foreach (var opt in opts)
        {
            var (key, value) = opt.Split('=', 2) is [var k, var v] ? (k, v) : (opt, "");
            switch (key)
            {
                case "max-size":
                    log.MaxSize = value == "-1" ? 0 : ResourceParser.ParseSize("--log-opt max-size", value);
                    break;
                case "max-file":
                    if (!int.TryParse(value, out var n) || n < 1) throw RuntimeError.Plain($"invalid value for max-file: {value}");
                    log.MaxFiles = n;
                    break;
                default:
                    throw RuntimeError.Plain($"unknown log opt '{key}' for json-file log driver");
            }
        }
        if (log.MaxFiles > 1 && log.MaxSize == 0) throw RuntimeError.Plain("max-file cannot be set without max-size");
        return log;
    }

    static void WriteEtcFiles(ContainerPaths paths, string hostname, string network)
    {
        File.WriteAllText(paths.HostnameFile, hostname + "\n");
        File.WriteAllText(paths.HostsFile, network == "host" && File.Exists("/etc/hosts")
            ? File.ReadAllText("/etc/hosts")
            : "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        File.WriteAllText(paths.ResolvConfFile, File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : "");
    }
}
