namespace Inception.Runtime.Cli;

/// <summary>docker's human-readable sizes, ages and column layout.</summary>
static class Humanize
{
    /// <summary>docker's disk and network sizes: 1.98MB, 12.3kB (powers of 1000).</summary>
    public static string Size(long bytes) => Scale(bytes, 1000, ["B", "kB", "MB", "GB", "TB"], "0.##");

    /// <summary>docker's memory sizes: 1.5MiB, 1.953GiB (powers of 1024).</summary>
    public static string BinarySize(long bytes) => Scale(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB"], "0.###");

    static string Scale(long bytes, double step, string[] units, string format)
    {
        double v = bytes;
        int u = 0;
        while (v >= step && u < units.Length - 1) { v /= step; u++; }
        return u == 0 ? $"{bytes}B" : v.ToString(format, System.Globalization.CultureInfo.InvariantCulture) + units[u];
    }

    /// <summary>docker's HumanDuration: "Less than a second", "3 seconds", "About a minute", "2 hours"…</summary>
    public static string Duration(TimeSpan d)
    {
        var seconds = (int)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        var minutes = (int)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        var hours = (int)Math.Round(d.TotalHours);
        if (hours == 1) return "About an hour";
        if (d.TotalHours < 48) return $"{hours} hours";
        if (d.TotalHours < 24 * 7 * 2) return $"{(int)(d.TotalHours / 24)} days";
        if (d.TotalHours < 24 * 30 * 2) return $"{(int)(d.TotalHours / 24 / 7)} weeks";
        if (d.TotalHours < 24 * 365 * 2) return $"{(int)(d.TotalHours / 24 / 30)} months";
        return $"{(int)(d.TotalHours / 24 / 365)} years";
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
