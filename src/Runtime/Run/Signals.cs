using Inception.Runtime.Errors;

namespace Inception.Runtime.Run;

/// <summary>Signal names and numbers as docker accepts them: KILL, SIGKILL, 9.</summary>
public static class Signals
{
    static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
        "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    public static int Parse(string text)
    {
        var t = text.Trim().ToUpperInvariant();
        if (int.TryParse(t, out var n) && n is > 0 and <= 64) return n;
        if (t.StartsWith("SIG", StringComparison.Ordinal)) t = t[3..];
        if (t == "IOT") return 6;
        if (t == "CLD") return 17;
        if (t == "POLL") return 29;
        int i = Array.IndexOf(Names, t);
        if (i > 0) return i;
        if (t.StartsWith("RTMIN", StringComparison.Ordinal) && (t.Length == 5 || int.TryParse(t[5..], out _)))
            return 34 + (t.Length == 5 ? 0 : int.Parse(t[5..]));
        throw RuntimeError.Plain($"invalid signal: {text}");
    }

    public static string Name(int signal) => signal > 0 && signal < Names.Length ? "SIG" + Names[signal] : signal.ToString();
}
