using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;
using static Inception.Runtime.Native.Libc;

namespace Inception.Runtime.Rootfs;

/// <summary>
/// For kernels or filesystems without idmapped mounts: a copy of each image layer whose owners are
/// shifted into a user namespace's block of host ids (on-disk 0 becomes the block's first id; ids the
/// maps do not cover become 65534, "nobody"), made once per layer and id map and kept beside the layer
/// (<c>layers/idmapped/HEX/MAPKEY</c>, removed with the layer). Modes, times, xattrs (the overlay's
/// opaque markers among them), devices (whiteouts), symlinks and hard links are copied as they are;
/// symlinks are never followed.
/// </summary>
internal static unsafe partial class ShiftedLayers
{
    /// <summary>The shifted copies of <paramref name="layerDirs"/> (same order), made where missing.</summary>
    public static List<string> Get(IReadOnlyList<string> layerDirs, IdMappings ids)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            LinuxIdMapping.MapText(ids.Uid) + "|" + LinuxIdMapping.MapText(ids.Gid))))[..16];
        var copies = new List<string>();
        foreach (var layer in layerDirs)
        {
            var full = Path.GetFullPath(layer);
            var layers = Path.GetDirectoryName(Path.GetDirectoryName(full))!;   // <root>/layers
            var copy = Path.Combine(layers, "idmapped", Path.GetFileName(full), key);
            if (!Directory.Exists(copy)) Make(full, copy, ids);
            copies.Add(copy);
        }
        return copies;
    }

    static void Make(string layer, string copy, IdMappings ids)
    {
        var temp = $"{copy}.tmp-{Environment.ProcessId}";
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        try
        {
            var links = new Dictionary<(ulong, ulong), string>();
            Entry(layer, temp, ids, links);
            if (renameat(AT_FDCWD, temp, AT_FDCWD, copy) < 0)
            {
                int e = Errno;
                if (e is not (EEXIST or ENOTEMPTY)) throw new RuntimeError("rename", copy, e);
                Directory.Delete(temp, true);   // another run made it first
            }
        }
        catch
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Copies one entry (recursing into directories), then its owner, mode, xattrs and times.</summary>
    static void Entry(string from, string to, IdMappings ids, Dictionary<(ulong, ulong), string> links)
    {
        if (LStat(from, out var st) is var err and not 0) throw new RuntimeError("lstat", from, err);
        uint type = st.Mode & S_IFMT;
        if (type != S_IFDIR && st.Nlink > 1 && links.TryGetValue((st.Dev, st.Ino), out var first))
        {
            if (linkat(AT_FDCWD, first, AT_FDCWD, to, 0) < 0) throw new RuntimeError("link", to, Errno);
            return;
        }
        switch (type)
        {
            case S_IFDIR:
                if (mkdirat(AT_FDCWD, to, 0x1c0) < 0) throw new RuntimeError("mkdir", to, Errno);
                foreach (var child in Directory.EnumerateFileSystemEntries(from))
                    Entry(child, Path.Combine(to, Path.GetFileName(child)), ids, links);
                break;
            case S_IFREG:
                File.Copy(from, to);
                break;
            case S_IFLNK:
                var target = new FileInfo(from).LinkTarget ?? throw new RuntimeError("readlink", from, 22 /* EINVAL */);
                if (symlinkat(target, AT_FDCWD, to) < 0) throw new RuntimeError("symlink", to, Errno);
                break;
            default:   // devices (whiteouts are 0/0), fifos, sockets
                if (mknodat(AT_FDCWD, to, st.Mode, st.Rdev) < 0) throw new RuntimeError("mknod", to, Errno);
                break;
        }
        if (type != S_IFDIR && st.Nlink > 1) links[(st.Dev, st.Ino)] = to;
        uint uid = LinuxIdMapping.ToHost(ids.Uid, st.Uid) ?? 65534, gid = LinuxIdMapping.ToHost(ids.Gid, st.Gid) ?? 65534;
        // chown before chmod: chown clears the setuid and setgid bits
        if (fchownat(AT_FDCWD, to, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) throw new RuntimeError("lchown", to, Errno);
        if (type != S_IFLNK && fchmodat(AT_FDCWD, to, st.Mode & 0xfff, 0) < 0) throw new RuntimeError("chmod", to, Errno);
        CopyXattrs(from, to);
        var times = stackalloc Timespec[2];
        times[0] = st.Atime;
        times[1] = st.Mtime;
        if (utimensat(AT_FDCWD, to, times, AT_SYMLINK_NOFOLLOW) < 0) throw new RuntimeError("utimensat", to, Errno);
    }

    static void CopyXattrs(string from, string to)
    {
        var names = new byte[64 * 1024];
        nint n;
        fixed (byte* p = names) n = llistxattr(from, p, (nuint)names.Length);
        if (n <= 0) return;
        var value = new byte[64 * 1024];
        foreach (var name in Encoding.UTF8.GetString(names, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            fixed (byte* v = value)
            {
                nint len = lgetxattr(from, name, v, (nuint)value.Length);
                if (len < 0) continue;
                if (lsetxattr(to, name, v, (nuint)len, 0) < 0) throw new RuntimeError("setxattr " + name, to, Errno);
            }
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint llistxattr(string path, byte* list, nuint size);
}
