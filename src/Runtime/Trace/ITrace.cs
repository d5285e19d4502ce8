namespace Inception.Runtime.Trace;

/// <summary>
/// One trace interface through which every kernel step goes. <c>--explain</c> prints it; when off,
/// callers test <see cref="Enabled"/> first so nothing is formatted.
/// </summary>
public interface ITrace
{
    bool Enabled { get; }

    /// <param name="call">the kernel call, e.g. <c>mount</c></param>
    /// <param name="args">its arguments with named flags, e.g. <c>"proc", "/proc", "proc", MS_NOSUID|MS_NODEV</c></param>
    /// <param name="errno">0 on success</param>
    /// <param name="why">one plain sentence for a learner</param>
    void Step(string call, string args, int errno, string why);
}

/// <summary>The trace when --explain is off.</summary>
public sealed class NoTrace : ITrace
{
    public static readonly NoTrace Instance = new();
    public bool Enabled => false;
    public void Step(string call, string args, int errno, string why) { }
}

/// <summary>Writes each step as two lines: the call with its result, then the sentence.</summary>
public sealed class TextTrace(TextWriter writer, string who) : ITrace
{
    public bool Enabled => true;

    public void Step(string call, string args, int errno, string why)
    {
        var result = errno == 0 ? "ok" : $"failed: {Native.Libc.StrError(errno)}";
        lock (writer)
        {
            writer.Write($"[{who}] {call}({args}) = {result}\n");
            if (why.Length > 0) writer.Write($"        {why}\n");
            writer.Flush();
        }
    }
}
