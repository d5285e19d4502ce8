using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Cgroups;

/// <summary>
/// A container's cgroup: <c>&lt;parent&gt;/&lt;id&gt;</c> (parent <c>incrun</c> unless --cgroup-parent) under
/// the root of the unified hierarchy (v2) or of every v1 controller hierarchy. Limits are written from
/// the spec's linux.resources before the container's command runs; the directories go with the container.
/// </summary>
public sealed class ContainerCgroup
{
    readonly CgroupLayout _layout;
    readonly string _relative;          // e.g. incrun/<id>

    public ContainerCgroup(CgroupLayout layout, string relativePath)
    {
        _layout = layout;
        _relative = relativePath.Trim('/');
    }

    /// <summary>Directory per hierarchy root (v2: one; v1: one per mounted controller hierarchy).</summary>
    IEnumerable<string> Roots => _layout.UseV2 ? [_layout.Unified!] : _layout.V1.Values.Distinct();

    public string? MemoryDir => _layout.UseV2 ? Path.Combine(_layout.Unified!, _relative)
        : _layout.V1.TryGetValue("memory", out var m) ? Path.Combine(m, _relative) : null;

    /// <summary>Creates the directories (parents included) and writes the limits.</summary>
    public void Create(LinuxResources? resources)
    {
        var cpuset = !_layout.UseV2 && _layout.V1.TryGetValue("cpuset", out var c) ? c : null;
        foreach (var root in Roots)
        {
            var dir = root;
            foreach (var part in _relative.Split('/'))
            {
                var parent = dir;
                dir = Path.Combine(dir, part);
                if (_layout.UseV2 && !Directory.Exists(dir)) EnableControllers(parent);
                // mkdir straight away (EEXIST: there already); recreates a parent another incrun just removed
                if (Native.Libc.mkdirat(Native.Libc.AT_FDCWD, dir, 0x1ff /* 0777 less umask, as mkdir(1) */) < 0 && Native.Libc.Errno is var errno and not 17 /* EEXIST */)
                    throw RuntimeError.Plain($"mkdir {dir}: {Native.Libc.StrError(errno)}");
                // A new v1 cpuset is empty and no task could join it: fill each level from the one above
                // (checked even for existing levels, which a parallel incrun may have just recreated).
                if (root == cpuset && File.Exists(Path.Combine(dir, "cpuset.cpus"))) InheritCpuset(parent, dir);
            }
        }
        if (resources is not null)
        {
            Update(resources);
            // v2 has no devices controller: an eBPF program attached to the cgroup filters device access.
            if (_layout.UseV2 && resources.Devices is { Count: > 0 } rules)
                DeviceProgramSize = DeviceProgram.Attach(Path.Combine(_layout.Unified!, _relative), rules);
        }
    }

    /// <summary>Writes limits to the container's existing directories (also the OCI `update` verb).</summary>
    public void Update(LinuxResources resources)
    {
        if (_layout.UseV2) CgroupFiles.ApplyV2(Path.Combine(_layout.Unified!, _relative), resources);
        else CgroupFiles.ApplyV1(this, resources);
    }

    /// <summary>Freezes or thaws every process of the container (v1 freezer.state, v2 cgroup.freeze) and
    /// waits until the kernel reports it done.</summary>
    public void Freeze(bool frozen)
    {
        string file, value, doneFile;
        Func<string, bool> done;
        if (_layout.UseV2)
        {
            var dir = Path.Combine(_layout.Unified!, _relative);
            (file, value, doneFile) = (Path.Combine(dir, "cgroup.freeze"), frozen ? "1" : "0", Path.Combine(dir, "cgroup.events"));
            done = text => text.Contains(frozen ? "frozen 1" : "frozen 0");
        }
        else if (V1Dir("freezer") is { } dir)
        {
            (file, value, doneFile) = (Path.Combine(dir, "freezer.state"), frozen ? "FROZEN" : "THAWED", Path.Combine(dir, "freezer.state"));
            done = text => text.Trim() == value;
        }
        else throw Errors.RuntimeError.Plain("pause needs the cgroup freezer, which this host does not have");
        CgroupFiles.Write(Path.GetDirectoryName(file)!, Path.GetFileName(file), value);
        for (int i = 0; i < 500 && !done(File.ReadAllText(doneFile)); i++)
        {
            if (!frozen || _layout.UseV2) Thread.Sleep(2);
            else CgroupFiles.Write(Path.GetDirectoryName(file)!, Path.GetFileName(file), value); // v1: FREEZING → retry
        }
    }

    /// <summary>The pids of the container's processes (from cgroup.procs), empty without a cgroup.</summary>
    public List<int> Pids()
    {
        var dir = _layout.UseV2 ? Path.Combine(_layout.Unified!, _relative)
            : V1Dir("pids") ?? V1Dir("memory") ?? V1Dir("cpu") ?? (Roots.FirstOrDefault() is { } r ? Path.Combine(r, _relative) : null);
        if (dir is null || !File.Exists(Path.Combine(dir, "cgroup.procs"))) return [];
        return [.. File.ReadAllLines(Path.Combine(dir, "cgroup.procs")).Where(l => l.Length > 0).Select(int.Parse)];
    }

    /// <summary>Instructions in the cgroup v2 device program attached at Create (0: none).</summary>
    public int DeviceProgramSize { get; private set; }

    internal string? V1Dir(string controller) =>
        _layout.V1.TryGetValue(controller, out var root) ? Path.Combine(root, _relative) : null;

    /// <summary>fds through which the C part places the container's init at clone time: v1 "tasks" files
    /// (the child writes "0" while single-threaded) or the v2 directory (clone3 CLONE_INTO_CGROUP). A pid
    /// written to cgroup.procs instead would wait for an RCU grace period (10-20 ms). Also how `exec`
    /// joins a running container's existing cgroup.</summary>
    public Container.CgroupHandles OpenJoinHandles()
    {
        if (_layout.UseV2)
        {
            var dir = Path.Combine(_layout.Unified!, _relative);
            int fd = Native.Libc.open(dir, Native.Libc.O_RDONLY | Native.Libc.O_DIRECTORY | Native.Libc.O_CLOEXEC, 0);
            return fd < 0 ? throw new RuntimeError("open", dir, Native.Libc.Errno) : new([], fd);
        }
        var fds = new List<int>();
        foreach (var root in Roots)
        {
            var dir = Path.Combine(root, _relative);
            var tasks = Path.Combine(dir, "tasks");
            int fd = Native.Libc.open(tasks, Native.Libc.O_WRONLY | Native.Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                int errno = Native.Libc.Errno;
                foreach (var f in fds) Native.Libc.close(f);
                throw new RuntimeError("open", tasks, errno);
            }
            fds.Add(fd);
        }
        return new([.. fds], -1);
    }

    public static void Close(Container.CgroupHandles handles)
    {
        foreach (var fd in handles.V1Tasks) Native.Libc.close(fd);
        if (handles.V2Dir >= 0) Native.Libc.close(handles.V2Dir);
    }

    /// <summary>Whether the kernel's OOM killer killed a process of this cgroup.</summary>
    public bool OomKilled()
    {
        if (MemoryDir is not { } dir) return false;
        var file = Path.Combine(dir, _layout.UseV2 ? "memory.events" : "memory.oom_control");
        try
        {
            foreach (var line in File.ReadLines(file))
                if (line.StartsWith("oom_kill ", StringComparison.Ordinal) && long.TryParse(line[9..], out var n) && n > 0) return true;
        }
        catch (IOException) { }
        return false;
    }

    /// <summary>Removes the container's directories, then the shared parent if no other container uses it.</summary>
    public void Remove()
    {
        foreach (var root in Roots)
        {
            var dir = Path.Combine(root, _relative);
            // rmdir straight away: gone (ENOENT) is done; busy means tasks still exiting
            for (int attempt = 0; attempt < 50 && Native.Libc.rmdir(dir) < 0 && Native.Libc.Errno is 16 /* EBUSY */ or 39 /* ENOTEMPTY */; attempt++)
                Thread.Sleep(2);
            var parent = Path.GetDirectoryName(dir)!;
            if (parent != root.TrimEnd('/') && Path.GetFileName(parent) == Run.ResourceParser.DefaultCgroupParent)
                Native.Libc.rmdir(parent); // fails while another container uses it
        }
    }

    static void InheritCpuset(string parent, string dir)
    {
        foreach (var f in new[] { "cpuset.cpus", "cpuset.mems" })
            if (CgroupFiles.Read(Path.Combine(dir, f)).Trim().Length == 0)
                CgroupFiles.Write(dir, f, CgroupFiles.Read(Path.Combine(parent, f)).Trim());
    }

    static void EnableControllers(string dir)
    {
        // Trimmed: the file ends in a newline, and the last controller ("pids\n") must still count.
        var available = File.ReadAllText(Path.Combine(dir, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var wanted = new[] { "cpu", "cpuset", "memory", "pids", "io" }.Where(available.Contains).Select(c => "+" + c);
        var line = string.Join(' ', wanted);
        if (line.Length > 0) CgroupFiles.Write(dir, "cgroup.subtree_control", line);
    }
}
