using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Cli;

/// <summary>One-line errors on stderr, docker's exit codes.</summary>
static class Output
{
    public static int Fail(string message, int code = 125)
    {
        Console.Error.WriteLine($"incrun: {message}");
        return code;
    }

    /// <summary>Runs a command body, turning runtime errors into one line and an exit code.</summary>
    public static int Guard(Func<int> body, bool needsRoot = true)
    {
        if (needsRoot && Libc.geteuid() != 0)
            return Fail("permission denied: incrun needs root (run it as root, e.g. with sudo)");
        try { return body(); }
        catch (RuntimeError e) { return Fail(e.Message, e.ExitCode); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Fail(RuntimeError.IoMessage(e)); }
    }
}
