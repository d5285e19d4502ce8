using Inception.Runtime.Errors;
using Inception.Runtime.Native;

namespace Inception.Runtime.Container;

/// <summary>A child of the runtime that it talks to over a sync socket — the container's init
/// (<see cref="ContainerProcess"/>) or a command started in a running container (<see cref="ExecProcess"/>):
/// its pid, pty master, exit status and signals.</summary>
public abstract unsafe class ChildProcess : IDisposable
{
    private protected readonly SyncChannel Sync;
    int _status = -1;

    /// <summary>The process's pid on the host (a child of the caller).</summary>
    public int Pid { get; }
    /// <summary>The pty master when the process has a terminal, else -1. Owned by this object.</summary>
    public int PtyMaster { get; private protected set; } = -1;

    private protected ChildProcess(int pid, SyncChannel sync)
    {
        Pid = pid;
        Sync = sync;
    }

    /// <summary>Whether Dispose kills a process that is still running.</summary>
    private protected virtual bool KillOnDispose => true;

    /// <summary>Waits for the process: its exit code, or 128+N if killed by signal N.</summary>
    public int Wait()
    {
        if (_status < 0) _status = WaitExit(Pid);
        return _status;
    }

    public void Signal(int signal)
    {
        if (_status < 0) Libc.kill(Pid, signal);
    }

    private protected int Reap()
    {
        Signal(9);
        return Wait();
    }

    /// <summary>Frees what a subclass holds besides the process (called first by Dispose).</summary>
    private protected virtual void Disposing() { }

    public void Dispose()
    {
        Disposing();
        if (_status < 0 && KillOnDispose) Reap();
        Sync.Dispose();
        if (PtyMaster >= 0) { Libc.close(PtyMaster); PtyMaster = -1; }
    }

    /// <summary>waitpid for a child: its exit code, or 128+N if killed by signal N.</summary>
    internal static int WaitExit(int pid)
    {
        int status;
        while (true)
        {
            int r = Libc.waitpid(pid, &status, 0);
            if (r == pid) break;
            if (r < 0 && Libc.Errno != 4) throw new RuntimeError("waitpid", pid.ToString(), Libc.Errno);
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
    }
}
