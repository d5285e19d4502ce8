using System.Text.Json;
using System.Text.RegularExpressions;
using Inception.Runtime.Cgroups;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;

namespace Inception.Runtime.OciRuntime;

/// <summary>
/// A container of the OCI front end, as kept under its state root (<c>--root</c>, /run/incrun-oci):
/// <c>&lt;root&gt;/&lt;id&gt;/</c> holds state.json (pid and its start time, bundle, cgroup), config.json (the
/// spec as created: poststop hooks run from it even when the bundle is gone) and exec.fifo while the
/// container is created and not yet started. The status is never stored: it is read from the kernel.
/// </summary>
public sealed partial class OciContainer
{
    public string Id { get; }
    public string Dir { get; }
    public OciRecord? Record { get; }

    public string FifoPath => Path.Combine(Dir, "exec.fifo");
    public string StatePath => Path.Combine(Dir, "state.json");
    public string ConfigPath => Path.Combine(Dir, "config.json");

    OciContainer(string id, string dir, OciRecord? record)
    {
        Id = id;
        Dir = dir;
        Record = record;
    }

    [GeneratedRegex(@"^[\w+\-.]+$")]
    private static partial Regex IdPattern();

    public static void ValidateId(string id)
    {
        if (!IdPattern().IsMatch(id) || id is "." or "..")
            throw RuntimeError.Plain($"invalid container id \"{id}\": use letters, digits, _ + - .", 1);
    }

    public static string DirOf(string root, string id)
    {
        ValidateId(id);
        return Path.Combine(root, id);
    }

    /// <summary>The container, or a "does not exist" error (exit status 1, as runc).</summary>
    public static OciContainer Load(string root, string id)
    {
        var dir = DirOf(root, id);
        if (!Directory.Exists(dir)) throw RuntimeError.Plain($"container \"{id}\" does not exist", 1);
        return new OciContainer(id, dir, ReadRecord(dir));
    }

    public static OciContainer? TryLoad(string root, string id)
    {
        var dir = DirOf(root, id);
        return Directory.Exists(dir) ? new OciContainer(id, dir, ReadRecord(dir)) : null;
    }

    static OciRecord? ReadRecord(string dir)
    {
        try { return OciRecord.Read(File.ReadAllBytes(Path.Combine(dir, "state.json"))); }
        catch (Exception e) when (e is IOException or JsonException) { return null; }  // still being created
    }

    public Spec? ReadSpec()
    {
        try { return SpecReader.Read(File.ReadAllBytes(ConfigPath)); }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    /// <summary>Writes state.json, once, at the end of create: in place (no temporary file to create and
    /// rename on the start path); a reader that meets it half-written sees "creating", which it is.</summary>
    public static void WriteRecord(string dir, OciRecord record) =>
        File.WriteAllBytes(Path.Combine(dir, "state.json"), record.ToJson());

    public static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + ".tmp");
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The container's process, alive (not a zombie) and the same one that was created.</summary>
    public bool ProcessAlive => Record is { Pid: > 0 } r && ProcessStart(r.Pid) is { } start && start == r.PidStart;

    /// <summary>creating, created, running, paused or stopped, from the kernel's view of the process.</summary>
    public string Status
    {
        get
        {
            if (Record is null) return "creating";
            if (!ProcessAlive) return "stopped";
            if (File.Exists(FifoPath)) return "created";
            return Freezer.IsFrozen(CgroupLayout.Detect(), Record.CgroupsPath) ? "paused" : "running";
        }
    }

    public OciState State(string status) => new()
    {
        Id = Id, Pid = status == "stopped" ? 0 : Record?.Pid ?? 0, Status = status, Bundle = Record?.Bundle ?? "",
        Rootfs = Record?.Rootfs ?? "", Created = Record?.Created ?? default, Owner = "root", Annotations = Record?.Annotations,
    };

    public OciState State() => State(Status);

    /// <summary>Start time of a live process (field 22 of /proc/PID/stat), null when it is gone or a zombie.</summary>
    public static ulong? ProcessStart(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        if (fields[0] is "Z" or "X" or "x") return null;
        return ulong.TryParse(fields[19], out var start) ? start : null;
    }

    /// <summary>Waits until the container's process is gone (or a zombie its parent has yet to reap).</summary>
    public bool WaitGone(TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (ProcessAlive)
        {
            if (Environment.TickCount64 > deadline) return false;
            Thread.Sleep(2);
        }
        return true;
    }

    /// <summary>Every process in the container's cgroup (host pids).</summary>
    public List<int> CgroupPids() => Record is null ? [] : Freezer.Pids(CgroupLayout.Detect(), Record.CgroupsPath);

    public void RemoveDir()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    /// <summary>runc's signal names (KILL, SIGKILL) and numbers.</summary>
    public static int ParseSignal(string text)
    {
        if (int.TryParse(text, out var n) && n is > 0 and < 65) return n;
        var name = text.ToUpperInvariant();
        if (name.StartsWith("SIG", StringComparison.Ordinal)) name = name[3..];
        int i = Array.IndexOf(SignalNames, name);
        if (i > 0) return i;
        if (name.StartsWith("RTMIN", StringComparison.Ordinal))
            return 34 + (name.Length == 5 ? 0 : int.TryParse(name[5..], out var k) ? k : 99) is var rt and <= 64 ? rt : throw RuntimeError.Plain($"unknown signal \"{text}\"", 1);
        throw RuntimeError.Plain($"unknown signal \"{text}\"", 1);
    }

    static readonly string[] SignalNames =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
        "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
}
