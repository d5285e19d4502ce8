using Inception.Runtime.Cgroups;
using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using Inception.Runtime.State;
using Inception.Runtime.Terminal;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Run;

/// <summary>
/// <c>incrun exec</c>: finds the running container (name, id or unique id prefix), builds the process
/// from its spec and the flags, and runs it in the container (<see cref="ExecProcess"/>) in the
/// foreground — stdio passed through or relayed through its own pty with -t, signals forwarded — or
/// detached with -d. Returns the process's exit status.
/// </summary>
internal sealed class ExecRunner(string stateRoot, ITrace trace)
{
    public int Run(ExecOptions o)
    {
        ContainerDirs.ReapStale(stateRoot);
        var container = ContainerStore.Find(stateRoot, o.Container);        // docker exec: exit 1 when unknown
        // A container whose incrun is gone is not running, whatever its state file says.
        int pid = container.Supervised ? ContainerDirs.ReadPid(stateRoot, container.Id)
            : throw RuntimeError.Plain($"container {container.Id} is not running", 1);
        var spec = container.ReadSpec() ?? throw RuntimeError.Plain($"container {container.Id} has no config.json", 1);
        if (trace.Enabled)
            trace.Step("read", $"\"{container.Dir}/{ContainerStore.StateFile}\"", 0,
                $"Container {container.State.Name} ({container.Id[..12]}) runs; its PID 1 is pid {pid} on the host.");

        var process = SpecGenerator.ExecProcess(spec, o, path => ReadContainerFile(pid, path),
            o.Tty ? PtySession.HostSize() : null, Environment.GetEnvironmentVariable);

        int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        var stdio = o.Detach || o.Tty ? new StdioFds(devNull, devNull, devNull) : new StdioFds(o.Interactive ? 0 : devNull, 1, 2);
        try
        {
            var handles = OpenCgroup(spec);
            ExecProcess exec;
            try { exec = ExecProcess.Start(pid, spec, process, stdio, handles, trace, o.Detach); }
            finally { ContainerCgroup.Close(handles); }
            using var _ = exec;
            if (o.Detach) return 0;

            using var session = o.Tty ? PtySession.Begin(exec.PtyMaster, o.Interactive) : null;
            using var relay = new SignalRelay(exec.Signal, session);
            if (trace.Enabled)
                trace.Step("waitpid", exec.Pid.ToString(), 0, "Wait for the command to exit; signals sent to incrun are forwarded to it.");
            int status = exec.Wait();
            session?.Drain();
            return status;
        }
        finally { Libc.close(devNull); }
    }

    /// <summary>The container's cgroup, as its spec names it (none when the host has no cgroups).</summary>
    static CgroupHandles OpenCgroup(Spec spec)
    {
        var layout = CgroupLayout.Detect();
        if (!layout.HasAny || spec.Linux?.CgroupsPath is not { Length: > 0 } path) return CgroupHandles.None;
        return new ContainerCgroup(layout, path).OpenJoinHandles();
    }

    /// <summary>A file of the container's root filesystem, seen through its PID 1's root and resolved
    /// inside it (a symlink in the image cannot lead to a host file); null if it does not exist.</summary>
    static unsafe byte[]? ReadContainerFile(int pid, string path)
    {
        var rootPath = $"/proc/{pid}/root";
        int root = Libc.open(rootPath, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (root < 0) throw new RuntimeError("open", rootPath, Libc.Errno);
        try
        {
            int fd = Libc.OpenAt2(root, path, (ulong)(Libc.O_RDONLY | Libc.O_CLOEXEC), Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
            if (fd < 0) return null;
            using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, true), FileAccess.Read);
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            return ms.ToArray();
        }
        finally { Libc.close(root); }
    }
}
