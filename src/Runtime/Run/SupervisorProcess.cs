using System.Collections;
using System.Text;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.State;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Run;

/// <summary>
/// The per-container supervisor of a detached container: this binary again, started with
/// <see cref="Variable"/> set, in a session of its own, with the container's directory lock as fd 3 and
/// a report pipe as fd 4. It runs the container (and restarts it per policy), writes its log and state,
/// and exits when the container stays stopped. The CLI that launched it waits only for the report:
/// "ok PID" once the command runs, or "err CODE MESSAGE".
/// </summary>
internal static class SupervisorProcess
{
    public const string Variable = "_INCRUN_SUPERVISE";
    const int LockFd = 3, ReportFd = 4;

    /// <summary>Starts a supervisor for the (locked) container and waits until its command runs.
    /// Throws the start error (with docker's exit code: 125, 126, 127).</summary>
    public static unsafe int Launch(ContainerDirs dirs)
    {
        int* p = stackalloc int[2];
        if (Libc.pipe2(p, Libc.O_CLOEXEC) < 0) throw new RuntimeError("pipe2", null, Libc.Errno);
        int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        var env = new List<string>();
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            if ((string)e.Key != Variable) env.Add($"{e.Key}={e.Value}");
        env.Add($"{Variable}={dirs.Path}");
        int pid = NativeSpawn.CloneExec("/proc/self/exe", ["incrun-supervisor", dirs.Id[..12]], env,
            [devNull, devNull, devNull, dirs.LockFd, p[1]], 0, 0, [], -1);
        Libc.close(p[1]);
        Libc.close(devNull);
        if (pid < 0)
        {
            Libc.close(p[0]);
            throw new RuntimeError("clone", "supervisor", -pid);
        }
        var report = ReadAll(p[0]);
        Libc.close(p[0]);
        if (report.StartsWith("ok ", StringComparison.Ordinal)) return int.Parse(report[3..].Trim());
        if (report.StartsWith("err ", StringComparison.Ordinal))
        {
            var parts = report[4..].TrimEnd('\n').Split(' ', 2);
            throw RuntimeError.Plain(parts.Length > 1 ? parts[1] : "start failed", int.Parse(parts[0]));
        }
        throw RuntimeError.Plain($"the container's supervisor (pid {pid}) exited before the container started");
    }

    static unsafe string ReadAll(int fd)
    {
        var bytes = new List<byte>();
        byte* buf = stackalloc byte[4096];
        while (true)
        {
            nint n = Libc.read(fd, buf, 4096);
            if (n < 0 && Libc.Errno == 4) continue;
            if (n <= 0) break;
            bytes.AddRange(new ReadOnlySpan<byte>(buf, (int)n));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>The supervisor's main: runs the container until it stays stopped; always exits 0 (what
    /// happened is in state.json).</summary>
    public static int Main(string dir)
    {
        Libc.setsid();
        Environment.SetEnvironmentVariable(Variable, null);
        var stateRoot = Path.GetDirectoryName(Path.GetDirectoryName(dir)!)!;
        var dirs = ContainerDirs.Adopt(dir, LockFd);
        bool reported = false;
        void Report(string line)
        {
            if (reported) return;
            reported = true;
            var b = Encoding.UTF8.GetBytes(line + "\n");
            unsafe { fixed (byte* q = b) Libc.write(ReportFd, q, (nuint)b.Length); }
            Libc.close(ReportFd);
        }
        var state = ContainerStore.Read(dir);
        try
        {
            var spec = dirs.ReadSpec() ?? throw RuntimeError.Plain($"config.json of container {dirs.Id} is missing or invalid");
            if (state is null) throw RuntimeError.Plain($"state.json of container {dirs.Id} is missing");
            new Supervisor(stateRoot, dirs, NoTrace.Instance).RunWithRestarts(StartPlan.FromSpec(spec, state), StdioMode.Detached,
                pid =>
                {
                    Report($"ok {pid}");
                    // from here on the supervisor mostly waits: once settled, give back the start-up code's pages
                    new Thread(() => { Thread.Sleep(1000); MemoryTrim.DropCleanExecutablePages(); })
                        { IsBackground = true, Name = "trim" }.Start();
                });
        }
        catch (RuntimeError e)
        {
            Report($"err {e.ExitCode} {e.Message.Replace('\n', ' ')}");
        }
        catch (Exception e)
        {
            Report($"err 125 supervisor: {e.Message.Replace('\n', ' ')}");
            try { ContainerStore.Update(dir, s => { s.Status = ContainerState.Exited; s.Error = e.Message; s.Pid = 0; }); }
            catch (Exception) { }
        }
        finally
        {
            if (state?.AutoRemove == true)
            {
                ContainerDirs.CleanupOutside(stateRoot, dir);
                dirs.Delete();
            }
            else dirs.Dispose();
        }
        return 0;
    }
}
