using static Inception.Runtime.Syscalls.MountFlags;

namespace Inception.Runtime.Rootfs;

/// <summary>An OCI mount's options split into mount(2) flags, propagation flags and the data string
/// (the table runc and crun use: "ro" → MS_RDONLY, "rbind" → MS_BIND|MS_REC, unknown → data).</summary>
internal readonly record struct MountOptions(ulong Flags, ulong Propagation, string? Data)
{
    public bool IsBind => (Flags & MS_BIND) != 0;
    public bool IsReadonly => (Flags & MS_RDONLY) != 0;

    static readonly Dictionary<string, (bool Clear, ulong Flag)> FlagTable = new()
    {
        ["ro"] = (false, MS_RDONLY), ["rw"] = (true, MS_RDONLY),
        ["nosuid"] = (false, MS_NOSUID), ["suid"] = (true, MS_NOSUID),
        ["nodev"] = (false, MS_NODEV), ["dev"] = (true, MS_NODEV),
        ["noexec"] = (false, MS_NOEXEC), ["exec"] = (true, MS_NOEXEC),
        ["sync"] = (false, MS_SYNCHRONOUS), ["async"] = (true, MS_SYNCHRONOUS),
        ["dirsync"] = (false, MS_DIRSYNC), ["remount"] = (false, MS_REMOUNT),
        ["mand"] = (false, MS_MANDLOCK), ["nomand"] = (true, MS_MANDLOCK),
        ["atime"] = (true, MS_NOATIME), ["noatime"] = (false, MS_NOATIME),
        ["diratime"] = (true, MS_NODIRATIME), ["nodiratime"] = (false, MS_NODIRATIME),
        ["bind"] = (false, MS_BIND), ["rbind"] = (false, MS_BIND | MS_REC),
        ["relatime"] = (false, MS_RELATIME), ["norelatime"] = (true, MS_RELATIME),
        ["strictatime"] = (false, MS_STRICTATIME), ["nostrictatime"] = (true, MS_STRICTATIME),
        ["lazytime"] = (false, MS_LAZYTIME), ["nolazytime"] = (true, MS_LAZYTIME),
        ["nosymfollow"] = (false, MS_NOSYMFOLLOW), ["symfollow"] = (true, MS_NOSYMFOLLOW),
    };

    static readonly Dictionary<string, ulong> PropagationTable = new()
    {
        ["private"] = MS_PRIVATE, ["rprivate"] = MS_PRIVATE | MS_REC,
        ["shared"] = MS_SHARED, ["rshared"] = MS_SHARED | MS_REC,
        ["slave"] = MS_SLAVE, ["rslave"] = MS_SLAVE | MS_REC,
        ["unbindable"] = MS_UNBINDABLE, ["runbindable"] = MS_UNBINDABLE | MS_REC,
    };

    /// <summary>Every option name with a flag meaning (the OCI features document lists them).</summary>
    public static IEnumerable<string> Known => FlagTable.Keys.Concat(PropagationTable.Keys).Order(StringComparer.Ordinal);

    public static MountOptions Parse(IEnumerable<string>? options)
    {
        ulong flags = 0, propagation = 0;
        List<string>? data = null;
        foreach (var o in options ?? [])
        {
            if (FlagTable.TryGetValue(o, out var f))
            {
                if (f.Clear) flags &= ~f.Flag; else flags |= f.Flag;
            }
            else if (PropagationTable.TryGetValue(o, out var p)) propagation |= p;
            else (data ??= []).Add(o);
        }
        return new MountOptions(flags, propagation, data is null ? null : string.Join(',', data));
    }

    /// <summary>Parses a propagation word ("rprivate", "rslave", ...) for linux.rootfsPropagation.</summary>
    public static ulong PropagationOf(string? word) =>
        word is not null && PropagationTable.TryGetValue(word, out var p) ? p : 0;
}
