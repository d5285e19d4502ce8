using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Run;

/// <summary>
/// <c>incrun cp</c> for a running container, through its root as the kernel shows it
/// (<c>/proc/PID/root</c>). Every container-side directory is opened with openat2(RESOLVE_IN_ROOT), so a
/// symlink inside the container can never lead the copy onto the host; the last component of each
/// created or read entry is handled through that directory's fd with O_NOFOLLOW semantics. docker's
/// rules: a destination that is a directory receives the source under its own name; modes are kept,
/// files written into the container belong to root (the container's root: with a user namespace, the
/// first host id of its block), symlinks are copied as symlinks.
/// </summary>
internal static class ContainerCopy
{
    /// <param name="owner">the host uid/gid of the container's root (0/0 without a user namespace)</param>
    public static void Into(int containerPid, string hostSource, string containerDest, (uint Uid, uint Gid) owner = default)
    {
        var src = Path.GetFullPath(hostSource);
        if (!File.Exists(src) && !Directory.Exists(src) && new FileInfo(src).LinkTarget is null)
            throw RuntimeError.Plain($"lstat {hostSource}: no such file or directory", 1);
        using var root = OpenRoot(containerPid);
        var (parentPath, name) = Split(containerDest);
        using var parent = root.OpenDir(parentPath, containerDest);
        var existing = parent.Kind(name);
        bool srcIsDir = Directory.Exists(src) && new FileInfo(src).LinkTarget is null;
        if (existing == EntryKind.Directory && !containerDest.EndsWith("/.", StringComparison.Ordinal))
        {
            using var dir = parent.Child(name, containerDest);
            CopyIn(src, dir, Path.GetFileName(src.TrimEnd('/')), owner);
        }
        else if (srcIsDir && existing == EntryKind.Other)
            throw RuntimeError.Plain($"cannot copy directory {hostSource} onto the file {containerDest}", 1);
        else
            CopyIn(src, parent, name, owner);
    }

    public static void OutOf(int containerPid, string containerSource, string hostDest)
    {
        using var root = OpenRoot(containerPid);
        var (parentPath, name) = Split(containerSource);
        using var parent = root.OpenDir(parentPath, containerSource);
        if (parent.Kind(name) == EntryKind.Missing)
            throw RuntimeError.Plain($"Could not find the file {containerSource} in container", 1);
        var dest = Path.GetFullPath(hostDest);
        if (Directory.Exists(dest)) dest = Path.Combine(dest, name == "." ? "root" : name);
        else if (!Directory.Exists(Path.GetDirectoryName(dest)))
            throw RuntimeError.Plain($"destination directory {Path.GetDirectoryName(dest)} does not exist", 1);
        CopyOut(parent, name, dest);
    }

    static (string Parent, string Name) Split(string containerPath)
    {
        var clean = "/" + string.Join('/', containerPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != "."));
        if (clean == "/") return ("/", ".");
        int slash = clean.LastIndexOf('/');
        return (slash == 0 ? "/" : clean[..slash], clean[(slash + 1)..]);
    }

    static DirFd OpenRoot(int pid)
    {
        int fd = Libc.open($"/proc/{pid}/root", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new RuntimeError("open", $"/proc/{pid}/root", Libc.Errno, exitCode: 1);
        return new DirFd(fd, fd);
    }

    enum EntryKind { Missing, Directory, Symlink, Other }

    /// <summary>A directory inside the container, open as an fd; entries are reached as
    /// /proc/self/fd/N/NAME, so only NAME (never a symlink in the middle) is looked up.</summary>
    sealed class DirFd(int fd, int rootFd) : IDisposable
    {
        public string Entry(string name) => $"/proc/self/fd/{fd}/{name}";

        public DirFd OpenDir(string path, string shown)
        {
            int d = Libc.OpenAt2(rootFd, path.TrimStart('/') is { Length: > 0 } rel ? rel : ".",
                (ulong)(Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC), Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS, 0);
            if (d < 0) throw new RuntimeError("open", shown, Libc.Errno, exitCode: 1);
            return new DirFd(d, rootFd);
        }

        public DirFd Child(string name, string shown)
        {
            int d = Libc.openat(fd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (d < 0) throw new RuntimeError("open", shown, Libc.Errno, exitCode: 1);
            return new DirFd(d, rootFd);
        }

        public EntryKind Kind(string name)
        {
            if (name == ".") return EntryKind.Directory;
            var info = new FileInfo(Entry(name));
            if (!info.Exists && !Directory.Exists(Entry(name)) && info.LinkTarget is null) return EntryKind.Missing;
            if (info.LinkTarget is not null) return EntryKind.Symlink;
            return info.Attributes.HasFlag(FileAttributes.Directory) ? EntryKind.Directory : EntryKind.Other;
        }

        public void Dispose()
        {
            if (fd != rootFd) Libc.close(fd);
            else Libc.close(rootFd);
        }
    }

    static void CopyIn(string src, DirFd parent, string name, (uint Uid, uint Gid) owner)
    {
        var info = new FileInfo(src);
        var target = parent.Entry(name);
        if (info.LinkTarget is { } link)
        {
            if (parent.Kind(name) != EntryKind.Missing) File.Delete(target);
            File.CreateSymbolicLink(target, link);
            Own(target, owner);
        }
        else if (Directory.Exists(src))
        {
            if (parent.Kind(name) == EntryKind.Missing) Directory.CreateDirectory(target);
            using var dir = parent.Child(name, name);
            Own(dir.Entry("."), owner);
            File.SetUnixFileMode(dir.Entry("."), File.GetUnixFileMode(src));
            foreach (var entry in Directory.EnumerateFileSystemEntries(src))
                CopyIn(entry, dir, Path.GetFileName(entry), owner);
        }
        else
        {
            int fd = Libc.openat(-100, target, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_NOFOLLOW | Libc.O_CLOEXEC,
                (uint)File.GetUnixFileMode(src));
            if (fd < 0) throw new RuntimeError("open", name, Libc.Errno, exitCode: 1);
            using (var output = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Write))
            using (var input = File.OpenRead(src))
                input.CopyTo(output);
            Own(target, owner);   // before the mode: chown clears setuid/setgid
            File.SetUnixFileMode(target, File.GetUnixFileMode(src));
        }
    }

    /// <summary>Gives an entry just written (its last component not followed) to the container's root.</summary>
    static void Own(string target, (uint Uid, uint Gid) owner)
    {
        if (owner == default) return;
        if (Libc.fchownat(Libc.AT_FDCWD, target, owner.Uid, owner.Gid, Libc.AT_SYMLINK_NOFOLLOW) < 0)
            throw new RuntimeError("lchown", target, Libc.Errno, exitCode: 1);
    }

    static void CopyOut(DirFd parent, string name, string dest)
    {
        var source = parent.Entry(name);
        switch (parent.Kind(name))
        {
            case EntryKind.Symlink:
                File.CreateSymbolicLink(dest, new FileInfo(source).LinkTarget!);
                break;
            case EntryKind.Directory:
            {
                using var dir = name == "." ? parent.OpenDir("/", "/") : parent.Child(name, name);
                Directory.CreateDirectory(dest);
                File.SetUnixFileMode(dest, File.GetUnixFileMode(dir.Entry(".")));
                foreach (var entry in Directory.EnumerateFileSystemEntries(dir.Entry(".")))
                    CopyOut(dir, Path.GetFileName(entry), Path.Combine(dest, Path.GetFileName(entry)));
                break;
            }
            default:
            {
                int fd = Libc.openat(-100, source, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd < 0) throw new RuntimeError("open", name, Libc.Errno, exitCode: 1);
                using (var input = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Read))
                using (var output = File.Create(dest))
                    input.CopyTo(output);
                File.SetUnixFileMode(dest, File.GetUnixFileMode(source));
                break;
            }
        }
    }
}
