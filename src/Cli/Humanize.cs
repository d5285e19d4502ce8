namespace Inception.Runtime.Cli;

/// <summary>docker's human-readable sizes, ages and column layout.</summary>
static class Humanize
{
    public static string Size(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.Length - 1) { v /= 1000; u++; }
        return u == 0 ? $"{bytes}B" : $"{v:0.##}{units[u]}";
    }

    /// <summary>docker's memory sizes: 1.5MiB, 1.953GiB.</summary>
    public static string BinarySize(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes}B" : $"{v:0.###}{units[u]}";
    }

    public static string Ago(DateTimeOffset? when)
    {
        if (when is null) return "N/A";
        var d = DateTimeOffset.UtcNow - when.Value;
        if (d.TotalSeconds < 1) return "Less than a second ago";
        if (d.TotalMinutes < 1) return $"{(int)d.TotalSeconds} seconds ago";
        if (d.TotalHours < 1) return Plural((int)d.TotalMinutes, "minute");
        if (d.TotalDays < 2) return Plural((int)d.TotalHours, "hour");
        if (d.TotalDays < 14) return Plural((int)d.TotalDays, "day");
        if (d.TotalDays < 60) return Plural((int)(d.TotalDays / 7), "week");
        if (d.TotalDays < 730) return Plural((int)(d.TotalDays / 30), "month");
        return Plural((int)(d.TotalDays / 365), "year");
    }

    static string Plural(int n, string unit) => n == 1 ? $"{(unit == "hour" ? "An" : "A")} {unit} ago" : $"{n} {unit}s ago";

    public static void PrintTable(List<string[]> rows)
    {
        var widths = new int[rows[0].Length];
        foreach (var r in rows) for (int i = 0; i < r.Length; i++) widths[i] = Math.Max(widths[i], r[i].Length);
        var w = Console.Out;
        foreach (var r in rows)
        {
            for (int i = 0; i < r.Length; i++)
                w.Write(i == r.Length - 1 ? r[i] : r[i].PadRight(widths[i] + 3));
            w.Write('\n');
        }
    }
}
