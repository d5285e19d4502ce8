using System.Globalization;
using System.Runtime.InteropServices;

namespace Inception.Runtime.Native;

/// <summary>
/// Lets a long-lived incrun process (a detached container's supervisor) give back the pages of its own
/// executable that it touched while starting up. Only mappings of the binary that are not writable and
/// hold no private (copied-on-write) pages are dropped, so what comes back on the next touch is exactly
/// the file's content: the code the supervisor still runs faults in again, the start-up code stays out.
/// </summary>
internal static partial class MemoryTrim
{
    const int MADV_DONTNEED = 4;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint addr, nuint length, int advice);

    /// <summary>Returns the number of bytes dropped from this process's resident set.</summary>
    public static long DropCleanExecutablePages()
    {
        string exe;
        try { exe = File.ResolveLinkTarget("/proc/self/exe", false)?.FullName ?? ""; }
        catch (IOException) { return 0; }
        long dropped = 0;
        (nint Start, nint End, bool Candidate)? current = null;
        long rss = 0, anonymous = 0;
        void Finish()
        {
            if (current is { Candidate: true } m && anonymous == 0 && rss > 0 && madvise(m.Start, (nuint)(m.End - m.Start), MADV_DONTNEED) == 0)
                dropped += rss * 1024;
        }
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var dash = line.IndexOf('-');
            if (dash > 0 && line.Length > dash + 1 && char.IsAsciiHexDigit(line[0]) && line.IndexOf(' ') > dash)
            {
                Finish();
                var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                var range = parts[0].Split('-');
                var path = parts.Length > 5 ? parts[5].Trim() : "";
                current = (nint.Parse(range[0], NumberStyles.HexNumber), nint.Parse(range[1], NumberStyles.HexNumber),
                    path == exe && !parts[1].Contains('w'));
                rss = anonymous = 0;
            }
            else if (line.StartsWith("Rss:", StringComparison.Ordinal)) rss = Kb(line);
            else if (line.StartsWith("Anonymous:", StringComparison.Ordinal)) anonymous = Kb(line);
        }
        Finish();
        return dropped;
    }

    static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}
