using System.Runtime.InteropServices;
using System.Text.Json;
using Inception.Runtime.Cgroups;
using Inception.Runtime.Container;
using Inception.Runtime.Images;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.State;
using Inception.Runtime.Terminal;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Run;

/// <summary>
/// <c>incrun run</c>: image + flags → OCI spec → the container core, in the foreground. Stdio is passed
/// straight through (or relayed through the container's pty with -t); signals are forwarded to the
/// container's PID 1; the container's directory is removed when it exits.
/// </summary>
internal sealed class ContainerRunner(string stateRoot, ITrace trace)
{
    static readonly int[] ForwardedSignals = [1, 2, 3, 10, 12, 15]; // HUP INT QUIT USR1 USR2 TERM
    const int SIGWINCH = 28;

    /// <summary>The container's exit status, and a line to print when it did not exit on its own terms.</summary>
    public readonly record struct Outcome(int ExitCode, string? Message);

    public Outcome Run(RunOptions o)
    {
        SpecGenerator.Validate(o);
        ContainerDirs.ReapStale(stateRoot);
        var id = ContainerDirs.NewId();
        using var dirs = ContainerDirs.Create(stateRoot, id);
        var paths = new ContainerPaths(dirs.Rootfs, dirs.Upper, dirs.Work, dirs.File("hostname"), dirs.File("hosts"), dirs.File("resolv.conf"));
        int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        var stdio = new StdioFds(o.Interactive && !o.Tty ? 0 : devNull, o.Tty ? devNull : 1, o.Tty ? devNull : 2);
        ContainerCgroup? cgroup = null;
        try
        {
            // The cgroup first (its limits come from flags alone), so init is cloned straight into it.
            var layout = CgroupLayout.Detect();
            cgroup = CreateCgroup(o, id, layout);
            var handles = cgroup.OpenJoinHandles();
            ContainerProcess container;
            try
            {
                // Spawn init before reading the image: its runtime starts up while the spec is written.
                container = ContainerProcess.Spawn(SpecGenerator.Namespaces(o, layout), dirs.Path, stdio, handles, trace);
            }
            finally { ContainerCgroup.Close(handles); }
            using var _ = container;
            var spec = BuildSpec(o, id, paths, layout);
            WriteEtcFiles(paths, spec.Hostname!, o.Network);
            // The OCI document of the container, for people and later commands. Written here, where
            // this process would otherwise wait for init's runtime to start.
            File.WriteAllBytes(dirs.File("config.json"), JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonWriter.Default.Spec));
            if (trace.Enabled)
                trace.Step("write", $"\"{dirs.File("config.json")}\"", 0,
                    $"The OCI runtime spec of container {id[..12]} (image {o.Image}); init gets the same spec over its sync socket.");
            container.Configure(spec);

            using var session = o.Tty ? PtySession.Begin(container.PtyMaster, o.Interactive) : null;
            var registrations = ForwardedSignals
                .Select(s => PosixSignalRegistration.Create((PosixSignal)s, ctx => { ctx.Cancel = true; container.Signal(s); }))
                .ToList();
            if (session is not null)
                registrations.Add(PosixSignalRegistration.Create((PosixSignal)SIGWINCH, ctx => { ctx.Cancel = true; session.Resize(); }));
            try
            {
                container.Start();
                if (trace.Enabled)
                    trace.Step("waitpid", container.Pid.ToString(), 0, "Wait for the container's PID 1 to exit; signals sent to incrun are forwarded to it.");
                int status = container.Wait();
                session?.Drain();
                if (status == 137 && cgroup.OomKilled())
                    return new Outcome(status, spec.Linux!.Resources?.Memory?.Limit is { } limit and > 0
                        ? $"container was OOM-killed (memory limit {limit / (1024 * 1024)} MiB)"
                        : "container was OOM-killed");
                return new Outcome(status, null);
            }
            finally
            {
                foreach (var r in registrations) r.Dispose();
            }
        }
        finally
        {
            cgroup?.Remove();   // after the container's processes are gone (its Dispose reaped init)
            Libc.close(devNull);
        }
    }

    /// <summary>Creates the container's cgroup with its limits. Init is cloned into it, so no instruction
    /// of the user's command (nor of init) runs unlimited.</summary>
    ContainerCgroup CreateCgroup(RunOptions o, string id, CgroupLayout layout)
    {
        var path = ResourceParser.CgroupsPath(o.Resources, id);
        var cgroup = new ContainerCgroup(layout, path);
        try
        {
            cgroup.Create(SpecGenerator.Resources(o));
        }
        catch
        {
            cgroup.Remove();
            throw;
        }
        if (trace.Enabled)
            trace.Step("mkdir", $"\"{path}\" in {(layout.UseV2 ? "the cgroup v2 hierarchy" : $"{layout.V1.Values.Distinct().Count()} cgroup v1 hierarchies")}", 0,
                "Create the container's own cgroup and write its limits; init is cloned straight into it.");
        return cgroup;
    }

    Spec BuildSpec(RunOptions o, string id, ContainerPaths paths, CgroupLayout layout)
    {
        var image = Images.Registry.ImagePuller.ResolveOrPull(stateRoot, o.Image, o.PullProgress);
        var c = image.Config.Config;
        var defaults = new ImageDefaults
        {
            Env = c.Env ?? [], Entrypoint = c.Entrypoint, Cmd = c.Cmd, WorkingDir = c.WorkingDir, User = c.User,
        };
        return SpecGenerator.Generate(o, defaults, image.LayerDirs, id, paths, p => ImageStore.ReadFile(image, p),
            o.Tty ? PtySession.HostSize() : null, Environment.GetEnvironmentVariable, layout);
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
