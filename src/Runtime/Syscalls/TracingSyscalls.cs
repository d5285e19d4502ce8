using Inception.Runtime.Trace;

namespace Inception.Runtime.Syscalls;

/// <summary>Wraps any <see cref="ISyscalls"/> and reports each call, its arguments, result and a
/// one-sentence explanation to the trace. Only used when the trace is enabled.</summary>
public sealed class TracingSyscalls(ISyscalls inner, ITrace trace) : ISyscalls
{
    int T(int r, string call, string args, string why)
    {
        trace.Step(call, args, r < 0 ? -r : 0, why);
        return r;
    }

    static string Q(string? s) => s is null ? "NULL" : $"\"{s}\"";

    public int Mount(string? source, string target, string? fstype, ulong flags, string? data) =>
        T(inner.Mount(source, target, fstype, flags, data), "mount",
          $"{Q(source)}, {Q(target)}, {Q(fstype)}, {MountFlags.Format(flags)}, {Q(data)}",
          Explain.Mount(source, target, fstype, flags));

    public int MountAt(string? source, int targetFd, string shownAs, string? fstype, ulong flags, string? data) =>
        T(inner.MountAt(source, targetFd, shownAs, fstype, flags, data), "mount",
          $"{Q(source)}, {Q(shownAs)}, {Q(fstype)}, {MountFlags.Format(flags)}, {Q(data)}",
          Explain.Mount(source, shownAs, fstype, flags));

    public int Umount(string target, int flags) =>
        T(inner.Umount(target, flags), "umount2", $"{Q(target)}, {(flags == MountFlags.MNT_DETACH ? "MNT_DETACH" : flags)}",
          "Detach the host's old root: from now on nothing of the host's filesystem is reachable.");

    public int MoveMount(int fromFd, string target) =>
        T(inner.MoveMount(fromFd, target), "move_mount", $"fd {fromFd}, \"\", AT_FDCWD, {Q(target)}, MOVE_MOUNT_F_EMPTY_PATH",
          "Attach the root filesystem the runtime built outside (an overlay over idmapped layers: files owned by 0 on disk are owned by the container's root, an unprivileged uid on the host).");

    public int PivotRoot(string newRoot, string putOld) =>
        T(inner.PivotRoot(newRoot, putOld), "pivot_root", $"{Q(newRoot)}, {Q(putOld)}",
          "Make the container's filesystem the root '/' of this mount namespace (unlike chroot, the old root can then be unmounted).");

    public int Chdir(string path) => T(inner.Chdir(path), "chdir", Q(path), "");

    public int SetHostname(string name) =>
        T(inner.SetHostname(name), "sethostname", Q(name),
          "Set the hostname in the new UTS namespace; the host keeps its own.");

    public int SetDomainName(string name) =>
        T(inner.SetDomainName(name), "setdomainname", Q(name), "Set the NIS domain name in the new UTS namespace.");

    public int SetPersonality(uint persona) =>
        T(inner.SetPersonality(persona), "personality", $"0x{persona:x}", "Set the execution domain the command runs with (linux.personality).");

    public int MkdirAt(int dirFd, string name, uint mode) =>
        T(inner.MkdirAt(dirFd, name, mode), "mkdirat", $"{dirFd}, {Q(name)}, 0{Convert.ToString(mode, 8)}", "Create a missing mount point.");

    public int CreateFileAt(int dirFd, string name, uint mode) =>
        T(inner.CreateFileAt(dirFd, name, mode), "openat", $"{dirFd}, {Q(name)}, O_CREAT|O_WRONLY|O_NOFOLLOW", "Create a missing file to bind-mount onto.");

    public int MknodAt(int dirFd, string name, uint mode, uint major, uint minor) =>
        T(inner.MknodAt(dirFd, name, mode, major, minor), "mknodat", $"/dev, {Q(name)}, S_IFCHR|0{Convert.ToString(mode & 0xfff, 8)}, makedev({major}, {minor})",
          $"Create the device /dev/{name}: the container's /dev holds only the few devices it is given.");

    public int SymlinkAt(string target, int dirFd, string name) =>
        T(inner.SymlinkAt(target, dirFd, name), "symlinkat", $"{Q(target)}, /dev, {Q(name)}", "");

    public int OpenInRoot(int rootFd, string path, int flags, uint mode) =>
        inner.OpenInRoot(rootFd, path, flags, mode); // a path lookup, not a step worth narrating

    public int Close(int fd) => inner.Close(fd);

    public int SetGroups(uint[] gids) =>
        T(inner.SetGroups(gids), "setgroups", $"[{string.Join(", ", gids)}]", "Set the supplementary groups of the container's user.");

    public int SetResGid(uint gid) =>
        T(inner.SetResGid(gid), "setresgid", $"{gid}, {gid}, {gid}", $"Become group {gid}.");

    public int SetResUid(uint uid) =>
        T(inner.SetResUid(uid), "setresuid", $"{uid}, {uid}, {uid}", $"Become user {uid}{(uid == 0 ? " (root inside the container)" : "")}.");

    public int InterfaceUp(string name) =>
        T(inner.InterfaceUp(name), "ioctl", $"SIOCSIFFLAGS, \"{name}\", IFF_UP",
          "Bring up the loopback interface of the new network namespace (it starts down and alone).");

    public int DropBoundingCapability(int cap) =>
        T(inner.DropBoundingCapability(cap), "prctl", $"PR_CAPBSET_DROP, {cap}",
          $"Remove capability {cap} from the bounding set: nothing in the container can ever get it back.");

    public int SetKeepCapabilities(bool keep) =>
        T(inner.SetKeepCapabilities(keep), "prctl", $"PR_SET_KEEPCAPS, {(keep ? 1 : 0)}",
          keep ? "Keep the permitted capabilities while switching user." : "");

    public int SetCapabilities(ulong effective, ulong permitted, ulong inheritable) =>
        T(inner.SetCapabilities(effective, permitted, inheritable), "capset",
          $"effective=0x{effective:x}, permitted=0x{permitted:x}, inheritable=0x{inheritable:x}",
          "Set the capabilities the command starts with: root in a container holds only this subset of root's powers.");

    public int RaiseAmbientCapability(int cap) =>
        T(inner.RaiseAmbientCapability(cap), "prctl", $"PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, {cap}",
          $"Keep capability {cap} across exec of programs that are not setuid.");

    public int SetNoNewPrivileges() =>
        T(inner.SetNoNewPrivileges(), "prctl", "PR_SET_NO_NEW_PRIVS, 1",
          "From now on no exec can raise privileges (setuid bits and file capabilities are ignored).");

    public int SetRlimit(int resource, ulong soft, ulong hard) =>
        T(inner.SetRlimit(resource, soft, hard), "prlimit", $"0, {resource}, {{soft={soft}, hard={hard}}}",
          "Set a resource limit (ulimit) of the container's process; its children inherit it.");

    public int SetSysctl(string name, string value) =>
        T(inner.SetSysctl(name, value), "write", $"\"/proc/sys/{name.Replace('.', '/')}\", \"{value}\"",
          $"Set the kernel parameter {name}: it is namespaced, so only this container sees the change.");

    public int SetOomScoreAdj(int value) =>
        T(inner.SetOomScoreAdj(value), "write", $"\"/proc/self/oom_score_adj\", \"{value}\"",
          "Tell the OOM killer how willing it should be to pick this container's processes.");

    public int SetSeccompFilter(byte[] program, uint flags) =>
        T(inner.SetSeccompFilter(program, flags), "seccomp",
          $"SECCOMP_SET_MODE_FILTER, {(flags == 0 ? "0" : $"0x{flags:x}")}, {{len={program.Length / 8}}}",
          "Install the seccomp filter: from now on the kernel checks every system call of this process and of the command it execs against the profile (a BPF program); calls the profile does not allow fail (docker's default: with EPERM).");

    public int Exec(string path, IReadOnlyList<string> argv, IReadOnlyList<string> env)
    {
        // Report before the call: on success execve does not return.
        trace.Step("execve", $"{Q(path)}, [{string.Join(", ", argv.Select(a => Q(a)))}]", 0,
            "Replace incrun's init with your command: it keeps PID 1 and every namespace set up above.");
        return inner.Exec(path, argv, env);
    }
}

static class Explain
{
    public static string Mount(string? source, string target, string? fstype, ulong flags)
    {
        if ((flags & MountFlags.MS_REMOUNT) != 0 && (flags & MountFlags.MS_RDONLY) != 0)
            return $"Make {target} read-only.";
        if ((flags & (MountFlags.MS_PRIVATE | MountFlags.MS_SLAVE | MountFlags.MS_SHARED)) != 0 && fstype is null)
            return target == "/"
                ? "Stop mounts made in this new mount namespace from propagating back to the host's."
                : $"Make the mount at {target} private: mounts made under it stay inside the container.";
        if ((flags & MountFlags.MS_BIND) != 0)
            return source == "/dev/null" ? $"Hide {target} by covering it with /dev/null."
                : source == target ? $"Bind {target} onto itself, so that it can be made read-only on its own."
                : $"Bind-mount {source} at {target}: the same files, seen from inside the container.";
        return fstype switch
        {
            "overlay" => "Stack the image's read-only layers under this container's writable layer: the container's root filesystem.",
            "proc" => "Mount a fresh /proc: it shows only the processes of the new PID namespace.",
            "sysfs" => "Mount /sys read-only: the container can read kernel information but not change it.",
            "devpts" => "Mount a new devpts instance: the container's terminals are its own, not the host's.",
            "mqueue" => "Mount the POSIX message queues of the new IPC namespace.",
            "tmpfs" when (flags & MountFlags.MS_RDONLY) != 0 => $"Hide the directory {target} under an empty read-only tmpfs.",
            "tmpfs" => $"Mount a memory-backed tmpfs at {target}.",
            _ => $"Mount {fstype} at {target}.",
        };
    }

}
