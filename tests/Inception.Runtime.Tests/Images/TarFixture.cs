using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Inception.Runtime.Native;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Images;

/// <summary>Builds tar archives in memory with System.Formats.Tar's TarWriter.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class TarFixture
{
    public const UnixFileMode Mode644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    public const UnixFileMode Mode755 = Mode644 | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    public static readonly DateTimeOffset MTime = new(2021, 3, 4, 5, 6, 7, TimeSpan.Zero);

    readonly MemoryStream _ms = new();
    readonly TarWriter _writer;

    public TarFixture(TarEntryFormat format = TarEntryFormat.Pax) => _writer = new TarWriter(_ms, format, leaveOpen: true);

    public TarFixture Dir(string name, UnixFileMode mode = Mode755, int uid = 0, int gid = 0, DateTimeOffset? mtime = null) =>
        Add(Entry(TarEntryType.Directory, name, mode, uid, gid, mtime));

    public TarFixture File(string name, string content, UnixFileMode mode = Mode644, int uid = 0, int gid = 0,
        DateTimeOffset? mtime = null, IEnumerable<KeyValuePair<string, string>>? pax = null) =>
        File(name, Encoding.UTF8.GetBytes(content), mode, uid, gid, mtime, pax);

    public TarFixture File(string name, byte[] content, UnixFileMode mode = Mode644, int uid = 0, int gid = 0,
        DateTimeOffset? mtime = null, IEnumerable<KeyValuePair<string, string>>? pax = null)
    {
        var e = Entry(TarEntryType.RegularFile, name, mode, uid, gid, mtime, pax);
        e.DataStream = new MemoryStream(content);
        return Add(e);
    }

    public TarFixture Symlink(string name, string target, int uid = 0, int gid = 0)
    {
        var e = Entry(TarEntryType.SymbolicLink, name, Mode755 | UnixFileMode.UserWrite, uid, gid, null);
        e.LinkName = target;
        return Add(e);
    }

    public TarFixture HardLink(string name, string target)
    {
        var e = Entry(TarEntryType.HardLink, name, Mode644, 0, 0, null);
        e.LinkName = target;
        return Add(e);
    }

    public TarFixture Node(TarEntryType type, string name, int major = 0, int minor = 0, UnixFileMode mode = Mode644, int uid = 0, int gid = 0)
    {
        var e = (PosixTarEntry)Entry(type, name, mode, uid, gid, null);
        if (type != TarEntryType.Fifo) { e.DeviceMajor = major; e.DeviceMinor = minor; }
        return Add(e);
    }

    public TarFixture Add(TarEntry e)
    {
        _writer.WriteEntry(e);
        return this;
    }

    TarEntry Entry(TarEntryType type, string name, UnixFileMode mode, int uid, int gid, DateTimeOffset? mtime,
        IEnumerable<KeyValuePair<string, string>>? pax = null)
    {
        TarEntry e = pax is not null ? new PaxTarEntry(type, name, pax)
            : _writer.Format == TarEntryFormat.Gnu ? new GnuTarEntry(type, name) : new PaxTarEntry(type, name);
        e.Mode = mode;
        e.Uid = uid;
        e.Gid = gid;
        e.ModificationTime = mtime ?? MTime;
        return e;
    }

    /// <summary>The finished archive (end-of-archive blocks written).</summary>
    public byte[] Bytes()
    {
        _writer.Dispose();
        return _ms.ToArray();
    }

    public static byte[] Gzip(byte[] tar)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(tar);
        return ms.ToArray();
    }
}

/// <summary>A temp dir per test plus lstat/xattr helpers for checking what extraction wrote.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public abstract class LayerTest : TempDirTest
{
    internal static Libc.Stat LStat(string path)
    {
        int err = Libc.LStat(path, out var st);
        Assert.That(err, Is.Zero, $"lstat({path}): {Libc.StrError(err)}");
        return st;
    }

    /// <summary>Every path below <paramref name="dir"/>, without descending into symlinks (unlike Directory.Enumerate*).</summary>
    internal static List<string> Walk(string dir)
    {
        var result = new List<string>();
        foreach (var p in Directory.EnumerateFileSystemEntries(dir))
        {
            result.Add(p);
            if ((LStat(p).Mode & Libc.S_IFMT) == Libc.S_IFDIR) result.AddRange(Walk(p));
        }
        return result;
    }

    internal static bool Exists(string path) => Libc.LStat(path, out _) == 0;

    internal static unsafe string? GetXattr(string path, string name)
    {
        var buf = new byte[4096];
        fixed (byte* p = buf)
        {
            nint n = Libc.lgetxattr(path, name, p, (nuint)buf.Length);
            return n < 0 ? null : Encoding.UTF8.GetString(buf, 0, (int)n);
        }
    }
}
