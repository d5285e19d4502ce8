using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Init;

/// <summary>Finds the command in $PATH the way execvp does, with docker's messages and exit codes
/// (127 not found, 126 found but not executable).</summary>
internal static class ExecLookup
{
    const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static string Find(string command, IReadOnlyList<string> env)
    {
        if (command.Contains('/'))
        {
            if (!File.Exists(command) && !Directory.Exists(command))
                throw RuntimeError.Plain($"exec: \"{command}\": stat {command}: no such file or directory", 127);
            return command;
        }
        var path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
        bool denied = false;
        foreach (var dir in path.Split(':'))
        {
            var candidate = Path.Combine(dir.Length == 0 ? "." : dir, command);
            if (!File.Exists(candidate)) continue;
            if (Libc.access(candidate, 1 /* X_OK */) == 0) return candidate;
            denied = true;
        }
        throw denied
            ? RuntimeError.Plain($"exec: \"{command}\": permission denied", 126)
            : RuntimeError.Plain($"exec: \"{command}\": executable file not found in $PATH", 127);
    }

    public static RuntimeError ExecError(string command, int errno) => errno switch
    {
        2 => RuntimeError.Plain($"exec: \"{command}\": no such file or directory", 127),
        13 or 8 or 21 => RuntimeError.Plain($"exec: \"{command}\": {Libc.StrError(errno).ToLowerInvariant()}", 126),
        _ => new RuntimeError("exec", command, errno, exitCode: 126),
    };
}
