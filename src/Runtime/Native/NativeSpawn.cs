using System.Runtime.InteropServices;

namespace Inception.Runtime.Native;

/// <summary>The C part (incrun_native.c), linked statically into the incrun binary.</summary>
internal static unsafe partial class NativeSpawn
{
    [LibraryImport("incrun_native", EntryPoint = "incrun_spawn", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Spawn(string path, byte** argv, byte** envp, int* fds, int nfds, int cloneFlags, int pdeathsig,
        int* cgroupTasks, int ncgroup, int cgroup2Fd, int execFd, int* nsFds, int nns, int pidNsFd, string? uidMap, string? gidMap, string? timeOffsets);

    [LibraryImport("incrun_native", EntryPoint = "incrun_idmapped_overlay", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int IdmappedOverlay(byte** lowers, int nlowers, string target, string data, int usernsFd, int* step, int* failedLayer);

    static readonly string[] OverlaySteps =
        ["clone", "unshare(CLONE_NEWNS)", "mount (private)", "open_tree", "mount_setattr(MOUNT_ATTR_IDMAP)", "move_mount", "mount overlay", "open_tree"];

    /// <summary>A detached overlay mount (an fd for move_mount) over <paramref name="lowers"/> seen through
    /// idmapped mounts of the user namespace <paramref name="usernsFd"/>, made in a private mount namespace
    /// of a short-lived child (see incrun_native.c). Throws the failed step, path and errno.</summary>
    public static int IdmappedOverlay(IReadOnlyList<string> lowers, string target, string data, int usernsFd)
    {
        using var l = new CStringArray(lowers);
        int step, layer;
        int fd = IdmappedOverlay(l.Pointer, lowers.Count, target, data, usernsFd, &step, &layer);
        if (fd >= 0) return fd;
        var what = OverlaySteps[Math.Clamp(step, 0, OverlaySteps.Length - 1)];
        var subject = layer >= 0 && layer < lowers.Count ? lowers[layer] : target;
        var hint = -fd == 22 /* EINVAL */ && step == 4 ? "idmapped mounts need Linux 5.12+ and a filesystem that supports them" : null;
        throw new Errors.RuntimeError(what, subject, -fd, hint);
    }

    /// <summary>clone(flags) a child that maps <paramref name="fds"/>[i] to fd i, joins the given
    /// cgroups (v1 "tasks" fds, or a v2 directory fd), enters the namespaces <paramref name="joinNs"/> (fds; a PID namespace <paramref name="pidNs"/> is entered
    /// at clone time) and execve()s path. With <paramref name="execFd"/> >= 0 the child execs that fd
    /// (execveat AT_EMPTY_PATH) instead of path. With CLONE_NEWUSER, <paramref name="uidMap"/> and
    /// <paramref name="gidMap"/> (the lines of /proc/PID/uid_map and gid_map) are written before the child
    /// goes on as the namespace's root. Returns the pid, or -errno if clone or execve failed.</summary>
    public static int CloneExec(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp, ReadOnlySpan<int> fds,
        int cloneFlags, int pdeathsig, ReadOnlySpan<int> cgroupTasks, int cgroup2Fd, int execFd = -1,
        ReadOnlySpan<int> joinNs = default, int pidNs = -1, string? uidMap = null, string? gidMap = null, string? timeOffsets = null)
    {
        using var a = new CStringArray(argv);
        using var e = new CStringArray(envp);
        fixed (int* f = fds)
        fixed (int* c = cgroupTasks)
        fixed (int* n = joinNs)
            return Spawn(path, a.Pointer, e.Pointer, f, fds.Length, cloneFlags, pdeathsig, c, cgroupTasks.Length, cgroup2Fd,
                execFd, n, joinNs.Length, pidNs, uidMap, gidMap, timeOffsets);
    }
}

/// <summary>A NULL-terminated char*[] in unmanaged memory, as execve wants it.</summary>
internal sealed unsafe class CStringArray : IDisposable
{
    public byte** Pointer { get; }
    readonly int _count;

    public CStringArray(IReadOnlyList<string> items)
    {
        _count = items.Count;
        Pointer = (byte**)NativeMemory.AllocZeroed((nuint)(_count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < _count; i++)
            Pointer[i] = (byte*)Marshal.StringToCoTaskMemUTF8(items[i]);
    }

    public void Dispose()
    {
        for (int i = 0; i < _count; i++) Marshal.FreeCoTaskMem((nint)Pointer[i]);
        NativeMemory.Free(Pointer);
    }
}
