using System.Diagnostics;
using Inception.Runtime.Images.Registry;

namespace Inception.Runtime.Cli;

/// <summary>
/// Draws pull/push progress: on a terminal one line per layer (status, bytes/total, speed) redrawn in place;
/// otherwise one plain line per status change. Quiet prints nothing.
/// </summary>
sealed class TransferProgress(TextWriter output, bool tty, bool quiet) : ITransferProgress
{
    sealed class Row(string id)
    {
        public string Id = id;
        public LayerStatus? Status;
        public long Current, Total;
        public long StartTicks = Stopwatch.GetTimestamp();
    }

    readonly Lock _lock = new();
    readonly List<Row> _rows = [];
    int _drawn;
    long _lastDraw;

    /// <summary>For stdout (pull, push) or stderr (run's implicit pull).</summary>
    public static TransferProgress For(TextWriter writer, int fd, bool quiet) => new(writer, !quiet && Native.Libc.isatty(fd) == 1, quiet);

    public void Missing(string familiar) => Console.Error.WriteLine($"Unable to find image '{familiar}' locally");

    public void Begin(string line)
    {
        if (quiet) return;
        lock (_lock) output.WriteLine(line);
    }

    public void End(string line)
    {
        if (quiet) return;
        lock (_lock)
        {
            if (tty) Draw(force: true);
            output.WriteLine(line);
        }
    }

    public void Layer(string digest, LayerStatus status, long current, long total)
    {
        if (quiet) return;
        lock (_lock)
        {
            var id = digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest[7..19] : digest;
            var row = _rows.Find(r => r.Id == id);
            if (row is null) _rows.Add(row = new Row(id));
            bool changed = row.Status != status;
            if (changed && status is LayerStatus.Downloading or LayerStatus.Pushing) row.StartTicks = Stopwatch.GetTimestamp();
            row.Status = status;
            row.Current = current;
            row.Total = total;
            if (tty) Draw(force: changed);
            else if (changed) output.WriteLine($"{id}: {Text(row)}");
        }
    }

    void Draw(bool force)
    {
        long now = Stopwatch.GetTimestamp();
        if (!force && Stopwatch.GetElapsedTime(_lastDraw, now) < TimeSpan.FromMilliseconds(100)) return;
        _lastDraw = now;
        if (_drawn > 0) output.Write($"\x1b[{_drawn}A");
        foreach (var r in _rows) output.Write($"\r\x1b[2K{r.Id}: {Text(r, bars: true)}\n");
        _drawn = _rows.Count;
        output.Flush();
    }

    static string Text(Row r, bool bars = false) => r.Status!.Value switch
    {
        LayerStatus.Waiting => "Pulling fs layer",
        LayerStatus.AlreadyExists => "Already exists",
        LayerStatus.Downloading when bars => $"Downloading {Bar(r)} {Humanize.Size(r.Current)}/{Humanize.Size(r.Total)} {Speed(r)}",
        LayerStatus.Downloading => "Downloading",
        LayerStatus.Retrying => "Retrying",
        LayerStatus.Complete => "Pull complete",
        LayerStatus.Preparing => "Preparing",
        LayerStatus.Pushing when bars => $"Pushing {Bar(r)} {Humanize.Size(r.Current)}/{Humanize.Size(r.Total)}",
        LayerStatus.Pushing => "Pushing",
        LayerStatus.Pushed => "Pushed",
        LayerStatus.Mounted => "Mounted from another repository",
        LayerStatus.LayerExists => "Layer already exists",
        _ => r.Status.Value.ToString(),
    };

    static string Bar(Row r)
    {
        const int width = 30;
        int filled = r.Total > 0 ? (int)Math.Min(width, r.Current * width / r.Total) : 0;
        return "[" + new string('=', Math.Max(0, filled - 1)) + (filled > 0 ? ">" : "") + new string(' ', width - filled) + "]";
    }

    static string Speed(Row r)
    {
        var s = Stopwatch.GetElapsedTime(r.StartTicks).TotalSeconds;
        return s < 0.05 ? "" : Humanize.Size((long)(r.Current / s)) + "/s";
    }
}
