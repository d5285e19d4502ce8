using System.IO.Compression;
using System.Security.Cryptography;
using Inception.Runtime.Errors;

namespace Inception.Runtime.Images;

/// <summary>Opens a layer archive: detects gzip by its magic bytes and returns the uncompressed tar stream.</summary>
internal static class LayerStreams
{
    static ReadOnlySpan<byte> Gzip => [0x1f, 0x8b];
    static ReadOnlySpan<byte> Zstd => [0x28, 0xb5, 0x2f, 0xfd];
    static ReadOnlySpan<byte> Xz => [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
    static ReadOnlySpan<byte> Bzip2 => [0x42, 0x5a, 0x68];

    /// <summary>The compression of an archive from its first bytes: "gzip", "zstd" or "" (plain tar).</summary>
    public static string Compression(ReadOnlySpan<byte> head) =>
        head.StartsWith(Gzip) ? "gzip" : head.StartsWith(Zstd) ? "zstd" : "";

    /// <summary>The uncompressed tar bytes of <paramref name="input"/> (which is not disposed).</summary>
    public static Stream Decompress(Stream input)
    {
        var head = new byte[6];
        int n = 0;
        while (n < head.Length)
        {
            int r = input.Read(head, n, head.Length - n);
            if (r == 0) break;
            n += r;
        }
        if (n == 0) throw RuntimeError.Plain("layer: the archive is empty");
        var magic = head.AsSpan(0, n);
        Stream raw = new PrefixedStream(head[..n], input);
        if (magic.StartsWith(Gzip)) return new GZipStream(raw, CompressionMode.Decompress, leaveOpen: false);
        if (magic.StartsWith(Zstd)) return new ZstdSharp.DecompressionStream(raw, leaveOpen: false);
        if (magic.StartsWith(Xz)) throw RuntimeError.Plain("layer: xz-compressed archives are not supported (decompress it with xz -d first)");
        if (magic.StartsWith(Bzip2)) throw RuntimeError.Plain("layer: bzip2-compressed archives are not supported (decompress it with bzip2 -d first)");
        return raw;
    }
}

/// <summary>Replays bytes already read from a stream, then continues with the stream.</summary>
internal sealed class PrefixedStream(byte[] prefix, Stream inner) : ForwardOnlyStream
{
    int _pos;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_pos < prefix.Length)
        {
            int n = Math.Min(buffer.Length, prefix.Length - _pos);
            prefix.AsSpan(_pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }
        return inner.Read(buffer);
    }

}

/// <summary>Computes the sha256 of every byte read through it: the layer's diff id.</summary>
internal sealed class HashingStream(Stream inner) : ForwardOnlyStream
{
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long BytesRead { get; private set; }

    /// <summary>Reads <paramref name="inner"/> to its end so the hash covers trailing padding too.</summary>
    public void Drain(Stream? above = null)
    {
        var buf = new byte[64 * 1024];
        var s = above ?? this;
        while (s.Read(buf, 0, buf.Length) > 0) { }
    }

    /// <summary>"sha256:&lt;hex&gt;" of the bytes read so far.</summary>
    public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash());

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        if (n > 0)
        {
            _hash.AppendData(buffer[..n]);
            BytesRead += n;
        }
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _hash.Dispose(); inner.Dispose(); }
        base.Dispose(disposing);
    }

}

/// <summary>A stream that can only be read forward, once.</summary>
internal abstract class ForwardOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>
/// Reads a blob as it arrives (from a registry, an archive or a file): hashes every byte (the blob's digest),
/// optionally copies it to <paramref name="copy"/> (the blob's temp file in the content store), remembers its
/// first bytes (the compression) and reports progress.
/// </summary>
internal sealed class BlobTee(Stream inner, Stream? copy, Action<long>? progress = null) : ForwardOnlyStream
{
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    readonly byte[] _head = new byte[8];
    int _headLength;

    public long BytesRead { get; private set; }

    public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash());

    /// <summary>"gzip", "zstd" or "" from the blob's first bytes.</summary>
    public string Compression => LayerStreams.Compression(_head.AsSpan(0, _headLength));

    /// <summary>Reads to the end (bytes after the compressed stream's end still belong to the blob).</summary>
    public void Drain()
    {
        var buf = new byte[64 * 1024];
        while (Read(buf, 0, buf.Length) > 0) { }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        if (n > 0)
        {
            var got = buffer[..n];
            _hash.AppendData(got);
            copy?.Write(got);
            if (_headLength < _head.Length)
            {
                int k = Math.Min(n, _head.Length - _headLength);
                got[..k].CopyTo(_head.AsSpan(_headLength));
                _headLength += k;
            }
            BytesRead += n;
            progress?.Invoke(BytesRead);
        }
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
