using System.Diagnostics;
using System.Text;

namespace Inception.Runtime.Tests.Integration;

public sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Drives the built incrun binary against a private state root with the busybox image.</summary>
public static class Incrun
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The binary under test: $INCRUN_BIN, else the one `./build.sh` installed.</summary>
    public static string Binary { get; } = Environment.GetEnvironmentVariable("INCRUN_BIN") is { Length: > 0 } b ? Path.GetFullPath(b) : "/usr/local/bin/incrun";

    /// <summary>A state root of the test run's own (images and containers), removed at the end.</summary>
    public static string StateRoot { get; } = Path.Combine(Path.GetTempPath(), $"incrun-it-{Environment.ProcessId}");

    /// <summary>The run's own parent cgroup name, so test runs side by side never see each other's cgroups.</summary>
    public static string CgroupParent { get; } = $"incrun-it-{Environment.ProcessId}";

    public static string ContainersDir => Path.Combine(StateRoot, "containers");

    public static bool IsRoot => Environment.UserName == "root";

    public static ProcessStartInfo StartInfo(IEnumerable<string> args, string? file = null)
    {
        var psi = new ProcessStartInfo(file ?? Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["INCRUN_ROOT"] = StateRoot;
        psi.Environment["INCRUN_CGROUP_PARENT"] = CgroupParent;
        return psi;
    }

    public static RunResult Run(params string[] args) => RunWith(null, TimeSpan.FromSeconds(60), args);

    public static RunResult RunWith(string? stdin, TimeSpan timeout, params string[] args) => Exec(StartInfo(args), stdin, timeout);

    public static RunResult Exec(ProcessStartInfo psi, string? stdin, TimeSpan timeout)
    {
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} did not finish in {timeout}");
        }
        p.WaitForExit();
        return new RunResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts incrun and returns once a line containing <paramref name="ready"/> was printed.</summary>
    public static (Process Process, StringBuilder Stdout, StringBuilder Stderr) StartUntil(string ready, params string[] args) =>
        StartUntil(StartInfo(args), ready);

    /// <summary>Starts a program and returns once a line containing <paramref name="ready"/> was printed.</summary>
    public static (Process Process, StringBuilder Stdout, StringBuilder Stderr) StartUntil(ProcessStartInfo psi, string ready)
    {
        var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var seen = new ManualResetEventSlim();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stdout) stdout.AppendLine(e.Data);
            if (e.Data.Contains(ready)) seen.Set();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!seen.Wait(TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"no '{ready}' from {psi.FileName}: {stdout} {stderr}");
        }
        return (p, stdout, stderr);
    }

    /// <summary>Mount points of the host (this test process's mount namespace).</summary>
    public static List<string> HostMounts() =>
        [.. File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])];

    /// <summary>Network interfaces of the host whose name starts with <paramref name="prefix"/>.</summary>
    public static List<string> Links(string prefix) =>
        [.. Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).OfType<string>().Where(n => n.StartsWith(prefix, StringComparison.Ordinal))];

    /// <summary>incrun's nftables table as `nft list` prints it, or "" when there is none.</summary>
    public static string NftTable()
    {
        var psi = new ProcessStartInfo("nft", ["list", "table", "ip", "incrun"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? output : "";
    }

    public static string[] LeftoverContainers() =>
        Directory.Exists(ContainersDir) ? Directory.GetDirectories(ContainersDir) : [];

    /// <summary>Direct children of a process, from /proc/PID/task/*/children.</summary>
    public static List<int> ChildrenOf(int pid)
    {
        var result = new List<int>();
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
            foreach (var s in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                result.Add(int.Parse(s));
        return result;
    }

    public static bool ProcessExists(int pid) => Directory.Exists($"/proc/{pid}") &&
        !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z');

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Inception.Runtime.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root");
    }
}
