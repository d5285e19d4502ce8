using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using Inception.Runtime.Oci;

namespace Inception.Runtime.OciRuntime;

/// <summary>Runs OCI lifecycle hooks: each one exec'd with exactly its args and env, the container's
/// state JSON on its stdin, and killed when its timeout (seconds) passes. The first failing hook
/// stops the rest (the caller decides whether that is fatal: poststart/poststop only warn).</summary>
public static unsafe class HookRunner
{
    public static void Run(IReadOnlyList<Hook>? hooks, string kind, string stateJson, int stdout, int stderr)
    {
        foreach (var hook in hooks ?? []) RunOne(hook, kind, stateJson, stdout, stderr);
    }

    static void RunOne(Hook hook, string kind, string stateJson, int stdout, int stderr)
    {
        if (!hook.Path.StartsWith('/')) throw RuntimeError.Plain($"{kind} hook: path \"{hook.Path}\" is not absolute");
        int* pipe = stackalloc int[2];
        RuntimeError.Check(Libc.pipe2(pipe, 0x80000 /* O_CLOEXEC */), "pipe2", $"{kind} hook");
        IReadOnlyList<string> argv = hook.Args is { Count: > 0 } a ? a : [hook.Path];
        int pid = NativeSpawn.CloneExec(hook.Path, argv, hook.Env ?? [], [pipe[0], stdout, stderr], 0, 0, [], -1);
        Libc.close(pipe[0]);
        if (pid < 0)
        {
            Libc.close(pipe[1]);
            throw new RuntimeError($"{kind} hook", hook.Path, -pid);
        }
        var bytes = System.Text.Encoding.UTF8.GetBytes(stateJson);
        fixed (byte* p = bytes)
        {
            // A hook that does not read its stdin gets EPIPE here (SIGPIPE is ignored): not an error.
            for (int off = 0; off < bytes.Length;)
            {
                nint w = Libc.write(pipe[1], p + off, (nuint)(bytes.Length - off));
                if (w < 0 && Libc.Errno == 4) continue;
                if (w <= 0) break;
                off += (int)w;
            }
        }
        Libc.close(pipe[1]);

        var deadline = hook.Timeout is { } t and > 0 ? Environment.TickCount64 + t * 1000L : long.MaxValue;
        int status = 0;
        for (int sleep = 1; ; sleep = Math.Min(sleep * 2, 20))
        {
            int r = Libc.waitpid(pid, &status, Libc.WNOHANG);
            if (r == pid) break;
            if (r < 0 && Libc.Errno != 4) throw new RuntimeError("waitpid", $"{kind} hook {hook.Path}", Libc.Errno);
            if (Environment.TickCount64 > deadline)
            {
                Libc.kill(pid, 9);
                while (Libc.waitpid(pid, &status, 0) < 0 && Libc.Errno == 4) { }
                throw RuntimeError.Plain($"{kind} hook {hook.Path}: timed out after {hook.Timeout} s (killed)");
            }
            Thread.Sleep(sleep);
        }
        if ((status & 0x7f) != 0) throw RuntimeError.Plain($"{kind} hook {hook.Path}: killed by signal {status & 0x7f}");
        int code = (status >> 8) & 0xff;
        if (code != 0) throw RuntimeError.Plain($"{kind} hook {hook.Path}: exit status {code}");
    }
}
