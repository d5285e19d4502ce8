using System.Text;
using System.Text.Json;
using Inception.Runtime.State;

namespace Inception.Runtime.Logs;

/// <summary>One log record: when, which stream, the text (a line with its newline, or a partial line).</summary>
public readonly record struct LogEntry(DateTime Time, string Stream, string Text);

/// <summary>
/// docker's json-file log format: one JSON object per line, <c>{"log":"hi\n","stream":"stdout","time":"…Z"}</c>.
/// Output is cut at newlines (a line longer than 16 KiB is written in pieces, as docker does). With a
/// size limit the file rotates: container.log → container.log.1 → … up to MaxFiles files in all.
/// </summary>
public sealed class JsonLogWriter : IDisposable
{
    const int MaxLine = 16 * 1024;
    readonly string _path;
    readonly LogOptions _options;
    readonly Lock _lock = new();
    readonly Dictionary<string, List<byte>> _partial = [];
    FileStream _file;

    public JsonLogWriter(string path, LogOptions options)
    {
        _path = path;
        _options = options;
        _file = Open(path);
    }

    static FileStream Open(string path) =>
        new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);

    /// <summary>Adds output of a stream ("stdout" or "stderr"); thread-safe.</summary>
    public void Write(string stream, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (!_partial.TryGetValue(stream, out var pending)) _partial[stream] = pending = [];
            var now = DateTime.UtcNow;
            while (data.Length > 0)
            {
                int nl = data.IndexOf((byte)'\n');
                if (nl < 0)
                {
                    pending.AddRange(data);
                    if (pending.Count >= MaxLine) Emit(stream, now, pending);
                    return;
                }
                pending.AddRange(data[..(nl + 1)]);
                Emit(stream, now, pending);
                data = data[(nl + 1)..];
            }
        }
    }

    void Emit(string stream, DateTime time, List<byte> bytes)
    {
        if (bytes.Count == 0) return;
        var buffer = new MemoryStream(bytes.Count + 80);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("log", Encoding.UTF8.GetString(bytes.ToArray()));
            w.WriteString("stream", stream);
            w.WriteString("time", time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        bytes.Clear();
        if (_options.MaxSize > 0 && _file.Length > 0 && _file.Length + buffer.Length > _options.MaxSize) Rotate();
        _file.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
        _file.Flush();
    }

    void Rotate()
    {
        _file.Dispose();
        int files = Math.Max(1, _options.MaxFiles);
        if (files == 1)
        {
            File.Delete(_path);
        }
        else
        {
            File.Delete($"{_path}.{files - 1}");
            for (int i = files - 2; i >= 1; i--)
                if (File.Exists($"{_path}.{i}")) File.Move($"{_path}.{i}", $"{_path}.{i + 1}");
            File.Move(_path, $"{_path}.1");
        }
        _file = Open(_path);
    }

    /// <summary>Writes what is left of unfinished lines.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var (stream, pending) in _partial) Emit(stream, DateTime.UtcNow, pending);
            _file.Dispose();
        }
    }
}

/// <summary>Reads json-file logs back, oldest first, across rotated files.</summary>
public static class JsonLogReader
{
    public static IEnumerable<LogEntry> ReadAll(string path)
    {
        var files = new List<string>();
        for (int i = 1; File.Exists($"{path}.{i}"); i++) files.Insert(0, $"{path}.{i}");
        if (File.Exists(path)) files.Add(path);
        foreach (var f in files)
        {
            using var stream = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (reader.ReadLine() is { } line)
                if (Parse(line) is { } e) yield return e;
        }
    }

    public static LogEntry? Parse(string line)
    {
        if (line.Length == 0) return null;
        try
        {
            var r = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            string? log = null, stream = null;
            DateTime time = default;
            while (r.Read())
            {
                if (r.TokenType != JsonTokenType.PropertyName) continue;
                var name = r.GetString();
                r.Read();
                switch (name)
                {
                    case "log": log = r.GetString(); break;
                    case "stream": stream = r.GetString(); break;
                    case "time": time = r.GetDateTime().ToUniversalTime(); break;
                }
            }
            return log is null ? null : new LogEntry(time, stream ?? "stdout", log);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException) { return null; }
    }
}
