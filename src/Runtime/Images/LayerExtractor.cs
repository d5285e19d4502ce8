using System.Formats.Tar;
using System.Text;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using static Inception.Runtime.Native.Libc;

namespace Inception.Runtime.Images;

/// <summary>The outcome of unpacking one layer.</summary>
/// <param name="DiffId">"sha256:&lt;hex&gt;" of the uncompressed tar stream</param>
/// <param name="Size">bytes of regular file content written (hard links counted once)</param>
/// <param name="Entries">tar entries processed</param>
internal sealed record LayerResult(string DiffId, long Size, int Entries);

/// <summary>
/// Unpacks a (possibly gzip-compressed) tar stream into an empty directory without ever touching anything
/// outside it. Every entry is created relative to a directory fd: the entry's parent is resolved with
/// openat2(RESOLVE_IN_ROOT), so ".." and symlinks (absolute or relative) in the archive resolve inside the
/// layer; the final name is created with *at calls that do not follow it. Ownership, modes (with
/// setuid/setgid/sticky), times, xattrs, devices, fifos, symlinks and hard links are kept.
/// Whiteouts are converted to overlayfs form, so stacked layer directories can be an overlay's lowerdirs:
/// <c>.wh.NAME</c> becomes a character device 0/0 named NAME, <c>.wh..wh..opq</c> sets
/// <c>trusted.overlay.opaque=y</c> on its directory. trusted.overlay.* xattrs in the archive itself are
/// dropped (an image must not forge redirects or metacopy for the overlay).
/// </summary>
internal sealed unsafe class LayerExtractor : IDisposable
{
    const int CopyBufferSize = 1 << 20;

    readonly int _root;
    readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(CopyBufferSize, pinned: true);
    readonly List<(string Path, Timespec Time)> _dirTimes = [];
    string? _cachedParent;
    int _cachedFd = -1;
    long _size;
    int _entries;

    LayerExtractor(int rootFd) => _root = rootFd;

    /// <summary>Unpacks <paramref name="archive"/> into the existing directory <paramref name="dir"/>.</summary>
    public static LayerResult Extract(Stream archive, string dir)
    {
        int root = Libc.open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (root < 0) throw new RuntimeError("layer: open", dir, Errno);
        using var x = new LayerExtractor(root);
        using var hashing = new HashingStream(LayerStreams.Decompress(archive));
        using var buffered = new BufferedStream(hashing, 128 * 1024);
        try
        {
            using var reader = new TarReader(buffered, leaveOpen: true);
            while (reader.GetNextEntry(copyData: false) is { } entry) x.Add(entry);
            hashing.Drain(buffered);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException or OverflowException)
        {
            throw RuntimeError.Plain($"layer: not a valid tar archive (after {x._entries} entries, {hashing.BytesRead} bytes): {e.Message}");
        }
        catch (IOException e)
        {
            throw RuntimeError.Plain($"layer: reading the archive failed after {hashing.BytesRead} bytes: {RuntimeError.IoText(e)}");
        }
        x.ApplyDirectoryTimes();
        return new LayerResult(hashing.Digest(), x._size, x._entries);
    }

    public void Dispose()
    {
        DropCache();
        Libc.close(_root);
    }

    void Add(TarEntry entry)
    {
        if (entry.EntryType == TarEntryType.GlobalExtendedAttributes) return;
        _entries++;
        string path = CleanName(entry.Name, entry.Name);
        if (_cachedParent is not null && IsSameOrUnder(_cachedParent, path)) DropCache();
        if (path.Length == 0)
        {
            if (entry.EntryType != TarEntryType.Directory) throw RuntimeError.Plain($"layer: entry \"{entry.Name}\" has an empty name");
            SetRootMetadata(entry);
            return;
        }
        int slash = path.LastIndexOf('/');
        string parent = slash < 0 ? "" : path[..slash], leaf = path[(slash + 1)..];
        int pfd = ParentFd(parent);
        if (leaf.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            Whiteout(entry, path, pfd, leaf);
            return;
        }
        switch (entry.EntryType)
        {
            case TarEntryType.Directory: Directory(entry, path, pfd, leaf); break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile: File(entry, path, pfd, leaf); break;
            case TarEntryType.SymbolicLink: Symlink(entry, path, pfd, leaf); break;
            case TarEntryType.HardLink: HardLink(entry, path, pfd, leaf); break;
            case TarEntryType.CharacterDevice: Node(entry, path, pfd, leaf, S_IFCHR); break;
            case TarEntryType.BlockDevice: Node(entry, path, pfd, leaf, S_IFBLK); break;
            case TarEntryType.Fifo: Node(entry, path, pfd, leaf, S_IFIFO); break;
            default: throw RuntimeError.Plain($"layer: entry \"{entry.Name}\" has unsupported type {entry.EntryType}");
        }
    }

    const string WhiteoutPrefix = ".wh.", OpaqueMarker = ".wh..wh..opq";

    /// <summary>An AUFS/OCI whiteout: the overlayfs form is a 0/0 character device, or an opaque xattr on the directory.</summary>
    void Whiteout(TarEntry entry, string path, int pfd, string leaf)
    {
        if (leaf == OpaqueMarker)
        {
            SetXattr(-1, $"/proc/self/fd/{pfd}/.", "trusted.overlay.opaque", "y"u8.ToArray(), path);
            return;
        }
        var name = leaf[WhiteoutPrefix.Length..];
        if (name.Length == 0 || name == "." || name == ".." || name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            throw RuntimeError.Plain($"layer: entry \"{entry.Name}\" is not a valid whiteout");
        if (mknodat(pfd, name, S_IFCHR, 0) < 0)
        {
            if (Errno != EEXIST) throw new RuntimeError("layer: mknodat (whiteout)", path, Errno);
            RemoveExisting(pfd, name, path);
            if (mknodat(pfd, name, S_IFCHR, 0) < 0) throw new RuntimeError("layer: mknodat (whiteout)", path, Errno);
        }
    }

    void Directory(TarEntry entry, string path, int pfd, string leaf)
    {
        if (mkdirat(pfd, leaf, 0x1C0) < 0)
        {
            int err = Errno;
            if (err != EEXIST) throw new RuntimeError("layer: mkdirat", path, err);
            Stat st;
            if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) throw new RuntimeError("layer: fstatat", path, Errno);
            if ((st.Mode & S_IFMT) != S_IFDIR)
            {
                if (unlinkat(pfd, leaf, 0) < 0) throw new RuntimeError("layer: unlinkat", path, Errno);
                if (mkdirat(pfd, leaf, 0x1C0) < 0) throw new RuntimeError("layer: mkdirat", path, Errno);
            }
        }
        int fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0) throw new RuntimeError("layer: open", path, Errno);
        try { SetFdMetadata(fd, entry, path, setTimes: false); }
        finally { Libc.close(fd); }
        _dirTimes.Add((path, MTime(entry)));
    }

    void File(TarEntry entry, string path, int pfd, string leaf)
    {
        const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        int fd = openat(pfd, leaf, flags, 0x180);
        if (fd < 0 && Errno == EEXIST)
        {
            RemoveExisting(pfd, leaf, path);
            fd = openat(pfd, leaf, flags, 0x180);
        }
        if (fd < 0) throw new RuntimeError("layer: openat", path, Errno);
        try
        {
            long written = 0;
            if (entry.DataStream is { } data)
            {
                int n;
                while ((n = data.Read(_buffer, 0, _buffer.Length)) > 0)
                {
                    WriteAll(fd, n, path);
                    written += n;
                }
            }
            if (written != entry.Length)
                throw RuntimeError.Plain($"layer: entry \"{entry.Name}\" is truncated ({written} of {entry.Length} bytes)");
            _size += written;
            SetFdMetadata(fd, entry, path, setTimes: true);
        }
        finally { Libc.close(fd); }
    }

    void WriteAll(int fd, int count, string path)
    {
        fixed (byte* p = _buffer)
        {
            int off = 0;
            while (off < count)
            {
                nint w = write(fd, p + off, (nuint)(count - off));
                if (w < 0)
                {
                    if (Errno == EINTR) continue;
                    throw new RuntimeError("layer: write", path, Errno);
                }
                off += (int)w;
            }
        }
    }

    void Symlink(TarEntry entry, string path, int pfd, string leaf)
    {
        var target = entry.LinkName;
        if (target.Length == 0 || target.Contains('\0')) throw RuntimeError.Plain($"layer: symlink \"{entry.Name}\" has an invalid target");
        if (symlinkat(target, pfd, leaf) < 0)
        {
            if (Errno != EEXIST) throw new RuntimeError("layer: symlinkat", path, Errno);
            RemoveExisting(pfd, leaf, path);
            if (symlinkat(target, pfd, leaf) < 0) throw new RuntimeError("layer: symlinkat", path, Errno);
        }
        if (fchownat(pfd, leaf, (uint)entry.Uid, (uint)entry.Gid, AT_SYMLINK_NOFOLLOW) < 0) throw new RuntimeError("layer: lchown", path, Errno);
        var t = MTime(entry);
        SetTimesAt(pfd, leaf, t, path);
    }

    void HardLink(TarEntry entry, string path, int pfd, string leaf)
    {
        string target = CleanName(entry.LinkName, entry.Name);
        if (target.Length == 0) throw RuntimeError.Plain($"layer: hard link \"{entry.Name}\" points at the layer root");
        if (target == path) return;
        int slash = target.LastIndexOf('/');
        string tparent = slash < 0 ? "" : target[..slash], tleaf = target[(slash + 1)..];
        int tfd = tparent.Length == 0 ? _root : OpenParent(tparent);
        if (tfd < 0) throw new RuntimeError("layer: link target", target, Errno);
        try
        {
            if (linkat(tfd, tleaf, pfd, leaf, 0) < 0)
            {
                if (Errno != EEXIST) throw new RuntimeError("layer: link", $"{path} -> {target}", Errno);
                RemoveExisting(pfd, leaf, path);
                if (linkat(tfd, tleaf, pfd, leaf, 0) < 0) throw new RuntimeError("layer: link", $"{path} -> {target}", Errno);
            }
        }
        finally { if (tfd != _root) Libc.close(tfd); }
    }

    void Node(TarEntry entry, string path, int pfd, string leaf, uint type)
    {
        var pe = (PosixTarEntry)entry;
        ulong dev = type == S_IFIFO ? 0 : MakeDev((uint)pe.DeviceMajor, (uint)pe.DeviceMinor);
        if (mknodat(pfd, leaf, type | 0x180, dev) < 0)
        {
            if (Errno != EEXIST) throw new RuntimeError("layer: mknodat", path, Errno);
            RemoveExisting(pfd, leaf, path);
            if (mknodat(pfd, leaf, type | 0x180, dev) < 0) throw new RuntimeError("layer: mknodat", path, Errno);
        }
        if (fchownat(pfd, leaf, (uint)entry.Uid, (uint)entry.Gid, AT_SYMLINK_NOFOLLOW) < 0) throw new RuntimeError("layer: lchown", path, Errno);
        // the node was just created by mknodat, so following the final name cannot leave the layer
        if (fchmodat(pfd, leaf, (uint)entry.Mode, 0) < 0) throw new RuntimeError("layer: chmod", path, Errno);
        foreach (var (name, value) in Xattrs(entry))
            SetXattr(-1, $"/proc/self/fd/{pfd}/{leaf}", name, value, path);
        SetTimesAt(pfd, leaf, MTime(entry), path);
    }

    void SetRootMetadata(TarEntry entry)
    {
        int fd = openat(_root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) throw new RuntimeError("layer: open", ".", Errno);
        try { SetFdMetadata(fd, entry, ".", setTimes: false); }
        finally { Libc.close(fd); }
        _dirTimes.Add(("", MTime(entry)));
    }

    /// <summary>chown before chmod: chown clears the setuid and setgid bits.</summary>
    void SetFdMetadata(int fd, TarEntry entry, string path, bool setTimes)
    {
        if (fchown(fd, (uint)entry.Uid, (uint)entry.Gid) < 0) throw new RuntimeError("layer: fchown", path, Errno);
        if (fchmod(fd, (uint)entry.Mode) < 0) throw new RuntimeError("layer: fchmod", path, Errno);
        foreach (var (name, value) in Xattrs(entry)) SetXattr(fd, null, name, value, path);
        if (setTimes)
        {
            var t = MTime(entry);
            Timespec* ts = stackalloc Timespec[2] { t, t };
            if (futimens(fd, ts) < 0) throw new RuntimeError("layer: futimens", path, Errno);
        }
    }

    static void SetTimesAt(int dirfd, string leaf, Timespec t, string path)
    {
        Timespec* ts = stackalloc Timespec[2] { t, t };
        if (utimensat(dirfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0) throw new RuntimeError("layer: utimensat", path, Errno);
    }

    static void SetXattr(int fd, string? procPath, string name, byte[] value, string path)
    {
        fixed (byte* v = value)
        {
            int r = procPath is null ? fsetxattr(fd, name, v, (nuint)value.Length, 0) : lsetxattr(procPath, name, v, (nuint)value.Length, 0);
            // like docker: a filesystem without xattr support is not fatal
            if (r < 0 && Errno != EOPNOTSUPP) throw new RuntimeError("layer: setxattr", $"{path} {name}", Errno);
        }
    }

    /// <summary>Extended attributes from PAX records: SCHILY.xattr.NAME (GNU tar, docker) and LIBARCHIVE.xattr.NAME (base64).</summary>
    static IEnumerable<(string Name, byte[] Value)> Xattrs(TarEntry entry)
    {
        if (entry is not PaxTarEntry pax || pax.ExtendedAttributes.Count == 0) yield break;
        foreach (var (key, value) in pax.ExtendedAttributes)
        {
            if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
            {
                // System.Formats.Tar hands PAX values over as UTF-8 text; a binary value is already damaged here.
                if (value.Contains('\uFFFD'))
                    throw RuntimeError.Plain($"layer: entry \"{entry.Name}\": binary value of xattr {key[13..]} is not supported yet");
                if (IsOverlayXattr(key[13..])) continue;
                yield return (key[13..], Encoding.UTF8.GetBytes(value));
            }
            else if (key.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal))
            {
                byte[] bytes;
                try { bytes = Convert.FromBase64String(value); }
                catch (FormatException) { throw RuntimeError.Plain($"layer: entry \"{entry.Name}\": xattr {key} is not base64"); }
                var name = Uri.UnescapeDataString(key[17..]);
                if (IsOverlayXattr(name)) continue;
                yield return (name, bytes);
            }
        }
    }

    static bool IsOverlayXattr(string name) =>
        name.StartsWith("trusted.overlay.", StringComparison.Ordinal) || name.StartsWith("user.overlay.", StringComparison.Ordinal);

    static Timespec MTime(TarEntry entry)
    {
        long ticks = entry.ModificationTime.UtcTicks - DateTime.UnixEpoch.Ticks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0) { sec--; rem += TimeSpan.TicksPerSecond; }
        return new Timespec { Sec = sec, Nsec = rem * 100 };
    }

    /// <summary>Tar semantics: a new entry replaces whatever non-directory (or directory, recursively) is there.</summary>
    void RemoveExisting(int pfd, string leaf, string path)
    {
        if (unlinkat(pfd, leaf, 0) == 0) return;
        int err = Errno;
        if (err != EISDIR) throw new RuntimeError("layer: unlinkat", path, err);
        // (Add already dropped a cached parent fd at or below this path)
        if (unlinkat(pfd, leaf, AT_REMOVEDIR) == 0) return;
        // a non-empty directory: delete through the parent fd so the walk stays inside the layer
        try { System.IO.Directory.Delete($"/proc/self/fd/{pfd}/{leaf}", recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw RuntimeError.Plain($"layer: replacing directory \"{path}\" failed: {RuntimeError.IoText(e)}");
        }
    }

    /// <summary>The directory fd of <paramref name="parent"/> (a cleaned path, "" for the root), resolved inside the root.</summary>
    int ParentFd(string parent, bool create = true)
    {
        if (parent.Length == 0) return _root;
        if (parent == _cachedParent) return _cachedFd;
        DropCache();
        int fd = OpenParent(parent);
        if (fd < 0 && Errno == ENOENT && create)
        {
            MakeParents(parent);
            fd = OpenParent(parent);
        }
        if (fd < 0) throw new RuntimeError("layer: openat2", parent, Errno);
        _cachedParent = parent;
        _cachedFd = fd;
        return fd;
    }

    int OpenParent(string parent) =>
        OpenAt2(_root, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

    /// <summary>Creates missing ancestors (0755, owned by the extracting user) of an entry whose archive lacks them.</summary>
    void MakeParents(string parent)
    {
        int start = 0;
        while (start <= parent.Length)
        {
            int end = parent.IndexOf('/', start);
            if (end < 0) end = parent.Length;
            string dir = parent[..end], up = start == 0 ? "" : parent[..(start - 1)];
            int pfd = up.Length == 0 ? _root : OpenParent(up);
            if (pfd < 0) throw new RuntimeError("layer: openat2", up, Errno);
            try
            {
                if (mkdirat(pfd, parent[start..end], 0x1ED) < 0 && Errno != EEXIST) throw new RuntimeError("layer: mkdirat", dir, Errno);
            }
            finally { if (pfd != _root) Libc.close(pfd); }
            start = end + 1;
        }
    }

    void DropCache()
    {
        if (_cachedFd >= 0) Libc.close(_cachedFd);
        _cachedFd = -1;
        _cachedParent = null;
    }

    void ApplyDirectoryTimes()
    {
        Timespec* ts = stackalloc Timespec[2];
        foreach (var (path, t) in _dirTimes)
        {
            int slash = path.LastIndexOf('/');
            string parent = slash < 0 ? "" : path[..slash], leaf = path.Length == 0 ? "." : path[(slash + 1)..];
            int pfd;
            try { pfd = ParentFd(parent, create: false); }
            catch (RuntimeError e) when (e.Errno is ENOENT or ENOTDIR) { continue; } // replaced by a later entry
            ts[0] = t;
            ts[1] = t;
            if (utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0 && Errno != ENOENT)
                throw new RuntimeError("layer: utimensat", path.Length == 0 ? "." : path, Errno);
        }
    }

    static bool IsSameOrUnder(string candidate, string path) =>
        candidate.StartsWith(path, StringComparison.Ordinal) && (candidate.Length == path.Length || candidate[path.Length] == '/');

    /// <summary>
    /// The archive name as a relative path without "", "." or ".." components ("" is the root). Leading "/" and
    /// "./" are dropped; a ".." that would climb above the root is rejected.
    /// </summary>
    internal static string CleanName(string name, string entryName)
    {
        if (name.Contains('\0')) throw RuntimeError.Plain($"layer: entry \"{entryName.Replace("\0", "\\0")}\" has a NUL byte in its name");
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..")
            {
                if (parts.Count == 0)
                    throw RuntimeError.Plain(name == entryName
                        ? $"layer: entry \"{entryName}\" escapes the layer root"
                        : $"layer: hard link \"{entryName}\" -> \"{name}\" escapes the layer root");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }
}
