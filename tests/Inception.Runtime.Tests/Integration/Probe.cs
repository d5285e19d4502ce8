using System.Diagnostics;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>The static helper (probe.c) built once per test run with gcc -static into a directory that
/// tests mount into containers (<c>-v DIR:/probe:ro</c>); also a setuid-root copy for no_new_privs tests.</summary>
public static class Probe
{
    static readonly Lazy<string> Built = new(Build);

    /// <summary>The directory holding <c>probe</c> and <c>probe-suid</c> (setuid root).</summary>
    public static string Dir => Built.Value;

    public static string Volume => $"{Dir}:/probe:ro";

    /// <summary>Runs a busybox container (with <paramref name="runArgs"/>) that tries each op in turn:
    /// stdout has one "op: result" line per op.</summary>
    public static RunResult Ops(string[] runArgs, params string[] ops)
    {
        var script = string.Join("; ", ops.Select(o => $"/probe/probe {o}"));
        return Incrun.Run(["run", "--rm", "-v", Volume, .. runArgs, "busybox", "sh", "-c", script + "; true"]);
    }

    static string Build()
    {
        var dir = Path.Combine(Incrun.StateRoot, "probe");
        Directory.CreateDirectory(dir);
        var source = Path.Combine(Incrun.RepoRoot, "tests", "Inception.Runtime.Tests", "Integration", "probe.c");
        var output = Path.Combine(dir, "probe");
        using (var gcc = Process.Start(new ProcessStartInfo("gcc", ["-static", "-O1", "-o", output, source]) { RedirectStandardError = true })!)
        {
            var err = gcc.StandardError.ReadToEnd();
            gcc.WaitForExit();
            Assert.That(gcc.ExitCode, Is.EqualTo(0), $"gcc -static probe.c failed: {err}");
        }
        var suid = Path.Combine(dir, "probe-suid");
        File.Copy(output, suid, overwrite: true);
        File.SetUnixFileMode(suid, UnixFileMode.SetUser | UnixFileMode.UserRead | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("755", 8));
        return dir;
    }
}
