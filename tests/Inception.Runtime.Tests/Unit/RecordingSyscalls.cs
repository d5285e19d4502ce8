using Inception.Runtime.Native;
using Inception.Runtime.Syscalls;

namespace Inception.Runtime.Tests.Unit;

/// <summary>
/// An <see cref="ISyscalls"/> double: every call is recorded as a readable line, e.g.
/// <c>mount(proc → /proc, proc, MS_NOSUID|MS_NODEV|MS_NOEXEC, )</c> (null arguments print as nothing;
/// MountAt records its <c>shownAs</c> path, never the fd). A small in-memory tree of container paths
/// makes <see cref="OpenInRoot"/> answer -ENOENT until MkdirAt/CreateFileAt/MknodAt/SymlinkAt create
/// the path. <see cref="FailNth"/> makes the Nth call of a method return -errno instead.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class RecordingSyscalls : ISyscalls
{
    public const int ENOENT = 2, EEXIST = 17;

    readonly List<string> _calls = [];
    readonly HashSet<string> _existing = ["/"];
    readonly Dictionary<int, string> _openFds = [];
    readonly Dictionary<string, int> _counts = [];
    readonly Dictionary<(string Method, int N), int> _failures = [];
    int _nextFd;

    public RecordingSyscalls(int firstFd = 100) => _nextFd = firstFd;

    /// <summary>Every call in order, including path lookups (<c>open(...)</c>) and <c>close(...)</c>.</summary>
    public IReadOnlyList<string> Calls => _calls;

    /// <summary>The calls that change something: everything except open and close.</summary>
    public IReadOnlyList<string> Steps => [.. _calls.Where(c => !c.StartsWith("open(") && !c.StartsWith("close("))];

    /// <summary>Fake fds handed out by <see cref="OpenInRoot"/> and not closed yet.</summary>
    public int OpenFdCount => _openFds.Count;

    public IReadOnlyCollection<string> Existing => _existing;

    /// <summary>Marks container paths (and their parents) as already present in the rootfs.</summary>
    public RecordingSyscalls WithExisting(params string[] paths)
    {
        foreach (var p in paths) AddWithParents(Normalize(p));
        return this;
    }

    /// <summary>The <paramref name="n"/>th call (1-based) of <paramref name="method"/> (an ISyscalls method
    /// name, e.g. <c>nameof(ISyscalls.PivotRoot)</c>) returns -<paramref name="errno"/>.</summary>
    public RecordingSyscalls FailNth(string method, int n, int errno)
    {
        if (typeof(ISyscalls).GetMethod(method) is null) throw new ArgumentException($"no ISyscalls.{method}", nameof(method));
        _failures[(method, n)] = errno;
        return this;
    }

    public int CallCount(string method) => _counts.GetValueOrDefault(method);

    /// <summary>Counts the call, records it, and returns -errno if a failure was scheduled for it.</summary>
    int? Enter(string method, string line)
    {
        int n = _counts[method] = _counts.GetValueOrDefault(method) + 1;
        if (_failures.TryGetValue((method, n), out var errno))
        {
            _calls.Add($"{line} = -{errno}");
            return -errno;
        }
        _calls.Add(line);
        return null;
    }

    static string S(string? s) => s ?? "";

    static string Normalize(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return "/" + string.Join('/', parts);
    }

    void AddWithParents(string path)
    {
        for (var p = path; p != "/"; p = Normalize(Path.GetDirectoryName(p) ?? "/")) _existing.Add(p);
    }

    /// <summary>The container path of a directory fd: one this double opened, otherwise the root (RootfsSetup
    /// starts its walk from a real dup of the root fd).</summary>
    string DirOf(int dirFd) => _openFds.TryGetValue(dirFd, out var p) ? p : "/";

    static string Join(string dir, string name) => Normalize(dir + "/" + name);

    int Create(string method, string line, string path)
    {
        if (Enter(method, line) is { } fail) return fail;
        if (_existing.Contains(path)) return -EEXIST;
        _existing.Add(path);
        return 0;
    }

    public int Mount(string? source, string target, string? fstype, ulong flags, string? data) =>
        Enter(nameof(Mount), $"mount({S(source)} → {target}, {S(fstype)}, {MountFlags.Format(flags)}, {S(data)})") ?? 0;

    public int MountAt(string? source, int targetFd, string shownAs, string? fstype, ulong flags, string? data)
    {
        if (!_openFds.ContainsKey(targetFd)) throw new InvalidOperationException($"MountAt on fd {targetFd}, which is not open");
        return Enter(nameof(MountAt), $"mount({S(source)} → {shownAs}, {S(fstype)}, {MountFlags.Format(flags)}, {S(data)})") ?? 0;
    }

    public int Umount(string target, int flags) =>
        Enter(nameof(Umount), $"umount2({target}, {(flags == MountFlags.MNT_DETACH ? "MNT_DETACH" : flags.ToString())})") ?? 0;

    public int MoveMount(int fromFd, string target) => Enter(nameof(MoveMount), $"move_mount(fd {fromFd} → {target})") ?? 0;
    public int PivotRoot(string newRoot, string putOld) => Enter(nameof(PivotRoot), $"pivot_root({newRoot}, {putOld})") ?? 0;
    public int Chdir(string path) => Enter(nameof(Chdir), $"chdir({path})") ?? 0;
    public int SetHostname(string name) => Enter(nameof(SetHostname), $"sethostname({name})") ?? 0;
    public int SetDomainName(string name) => Enter(nameof(SetDomainName), $"setdomainname({name})") ?? 0;
    public int SetPersonality(uint persona) => Enter(nameof(SetPersonality), $"personality({persona})") ?? 0;

    public int MkdirAt(int dirFd, string name, uint mode)
    {
        var path = Join(DirOf(dirFd), name);
        return Create(nameof(MkdirAt), $"mkdir({path}, 0{Convert.ToString(mode, 8)})", path);
    }

    public int CreateFileAt(int dirFd, string name, uint mode)
    {
        var path = Join(DirOf(dirFd), name);
        return Create(nameof(CreateFileAt), $"create({path}, 0{Convert.ToString(mode, 8)})", path);
    }

    public int MknodAt(int dirFd, string name, uint mode, uint major, uint minor)
    {
        var path = Join(DirOf(dirFd), name);
        var type = (mode & 0xf000) switch { 0x2000 => "c", 0x6000 => "b", 0x1000 => "p", _ => "?" };
        return Create(nameof(MknodAt), $"mknod({path}, {type}, 0{Convert.ToString(mode & 0xfff, 8)}, {major}:{minor})", path);
    }

    public int SymlinkAt(string target, int dirFd, string name)
    {
        var path = Join(DirOf(dirFd), name);
        return Create(nameof(SymlinkAt), $"symlink({path} → {target})", path);
    }

    public int OpenInRoot(int rootFd, string path, int flags, uint mode)
    {
        var p = Normalize(path);
        if (Enter(nameof(OpenInRoot), $"open({p})") is { } fail) return fail;
        if (!_existing.Contains(p)) return -ENOENT;
        int fd = _nextFd++;
        _openFds[fd] = p;
        return fd;
    }

    public int Close(int fd)
    {
        if (Enter(nameof(Close), $"close({fd})") is { } fail) return fail;
        if (_openFds.Remove(fd)) return 0;
        // Not one of ours: RootfsSetup closes the real dup(2) of its root fd through the seam, as
        // LinuxSyscalls would. Close it for real so tests do not leak fds.
        return fd >= 3 && Libc.close(fd) == 0 ? 0 : -9 /* EBADF */;
    }

    public int SetGroups(uint[] gids) => Enter(nameof(SetGroups), $"setgroups([{string.Join(", ", gids)}])") ?? 0;
    public int SetResGid(uint gid) => Enter(nameof(SetResGid), $"setresgid({gid})") ?? 0;
    public int SetResUid(uint uid) => Enter(nameof(SetResUid), $"setresuid({uid})") ?? 0;
    public int InterfaceUp(string name) => Enter(nameof(InterfaceUp), $"ifup({name})") ?? 0;

    public int DropBoundingCapability(int cap) => Enter(nameof(DropBoundingCapability), $"capbset_drop({cap})") ?? 0;

    public int SetKeepCapabilities(bool keep) => Enter(nameof(SetKeepCapabilities), $"keepcaps({(keep ? 1 : 0)})") ?? 0;

    public int SetCapabilities(ulong effective, ulong permitted, ulong inheritable) =>
        Enter(nameof(SetCapabilities), $"capset(e=0x{effective:x}, p=0x{permitted:x}, i=0x{inheritable:x})") ?? 0;

    public int RaiseAmbientCapability(int cap) => Enter(nameof(RaiseAmbientCapability), $"ambient_raise({cap})") ?? 0;

    public int SetNoNewPrivileges() => Enter(nameof(SetNoNewPrivileges), "no_new_privs") ?? 0;

    public int SetRlimit(int resource, ulong soft, ulong hard) => Enter(nameof(SetRlimit), $"prlimit({resource}, {soft}, {hard})") ?? 0;

    public int SetSysctl(string name, string value) => Enter(nameof(SetSysctl), $"sysctl({name}={value})") ?? 0;

    public int SetOomScoreAdj(int value) => Enter(nameof(SetOomScoreAdj), $"oom_score_adj({value})") ?? 0;

    public int SetSeccompFilter(byte[] program, uint flags) =>
        Enter(nameof(SetSeccompFilter), $"seccomp({program.Length / 8} instructions, flags={flags})") ?? 0;

    public int Exec(string path, IReadOnlyList<string> argv, IReadOnlyList<string> env) =>
        Enter(nameof(Exec), $"execve({path}, [{string.Join(", ", argv)}])") ?? 0;
}
