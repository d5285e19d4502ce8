using Inception.Runtime.Native;

namespace Inception.Runtime.Errors;

/// <summary>
/// A failure that names what failed, the path or value, and the errno text, in one line:
/// <c>pivot_root(/var/lib/incrun/...): Invalid argument</c>. <see cref="ExitCode"/> follows docker:
/// 125 for runtime errors, 126 when the command cannot be executed, 127 when it is not found.
/// </summary>
public sealed class RuntimeError : Exception
{
    public string Step { get; }
    public string? Subject { get; }
    public int Errno { get; }
    public int ExitCode { get; }
    /// <summary>The text after the colon when it is not the errno's text.</summary>
    public string? Detail { get; }

    public RuntimeError(string step, string? subject, int errno, string? detail = null, int exitCode = 125, Exception? inner = null)
        : base(Format(step, subject, errno, detail), inner)
    {
        Step = step;
        Subject = subject;
        Errno = errno;
        Detail = detail;
        ExitCode = exitCode;
    }

    /// <summary>An error with no errno: <c>step: detail</c> (or just the detail when step is empty).</summary>
    public static RuntimeError Plain(string detail, int exitCode = 125) => new("", null, 0, detail, exitCode);

    public static RuntimeError FromErrno(string step, string? subject, int errno) => new(step, subject, errno);

    /// <summary>Throws for the current errno when <paramref name="result"/> is negative; returns it otherwise.</summary>
    public static int Check(int result, string step, string? subject)
    {
        if (result < 0) throw new RuntimeError(step, subject, Libc.Errno);
        return result;
    }

    /// <summary>The errno text of a .NET I/O exception ("No such file or directory"). This build has
    /// UseSystemResourceKeys, so .NET's own messages are resource keys; on Linux an IOException's HResult
    /// is the errno.</summary>
    public static string IoText(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => Libc.StrError(2),
        PathTooLongException => Libc.StrError(36),
        UnauthorizedAccessException => Libc.StrError(e.HResult is > 0 and < 4096 ? e.HResult : 13),
        IOException when e.HResult is > 0 and < 4096 => Libc.StrError(e.HResult),
        _ => e.Message,
    };

    /// <summary>"PATH: errno text" for a .NET I/O exception whose message is a resource key with the path
    /// as its argument ("IO_PathNotFound_Path, /x"); its message otherwise.</summary>
    public static string IoMessage(Exception e)
    {
        var m = e.Message;
        int comma = m.IndexOf(", ", StringComparison.Ordinal);
        if (comma <= 0 || m[..comma].Contains(' ')) return m;
        var arg = m[(comma + 2)..];
        return arg.Length > 0 ? $"{arg}: {IoText(e)}" : IoText(e);
    }

    static string Format(string step, string? subject, int errno, string? detail)
    {
        var head = step.Length == 0 ? "" : subject is null ? step : $"{step}({subject})";
        var tail = detail ?? (errno != 0 ? Libc.StrError(errno) : "");
        if (head.Length == 0) return tail;
        return tail.Length == 0 ? head : $"{head}: {tail}";
    }
}
