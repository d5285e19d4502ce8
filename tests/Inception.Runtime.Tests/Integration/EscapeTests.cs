using System.Diagnostics;
using System.Security.Cryptography;
using Inception.Runtime.Native;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>The known ways out of a container, each tried from inside one (or, for the runtime binary,
/// through the same /proc/PID/exe link a container process would use); the host file each targets is
/// checked unchanged.</summary>
public sealed class EscapeTests : ContainerTest
{
    [Test]
    public void KernelTunablesSysrqAndSysfsCannotBeWritten()
    {
        var swappiness = File.ReadAllText("/proc/sys/vm/swappiness");
        var sysrq = File.Exists("/proc/sys/kernel/sysrq") ? File.ReadAllText("/proc/sys/kernel/sysrq") : null;
        var r = Integration.Probe.Ops([], "write /proc/sys/vm/swappiness 17", "write /proc/sysrq-trigger h", "write /proc/sys/kernel/sysrq 0",
            "write /sys/kernel/mm/transparent_hugepage/enabled never");
        foreach (var line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.That(line, Does.EndWith("Read-only file system").Or.EndWith("No such file or directory").Or.EndWith("Permission denied"), r.ToString());
        Assert.That(r.Stdout, Does.Contain("write: Read-only file system"), r.ToString());
        Assert.That(File.ReadAllText("/proc/sys/vm/swappiness"), Is.EqualTo(swappiness));
        if (sysrq is not null) Assert.That(File.ReadAllText("/proc/sys/kernel/sysrq"), Is.EqualTo(sysrq));
    }

    [Test]
    public void KcoreIsMaskedAndCannotBeWritten()
    {
        var r = Run("run", "--rm", "-v", Integration.Probe.Volume, "busybox", "sh", "-c",
            "/probe/probe write /proc/kcore; cat /proc/kcore | wc -c; grep -c ' /proc/kcore ' /proc/self/mountinfo");
        var lines = r.Stdout.Split('\n').Select(s => s.Trim()).ToArray();
        if (!File.Exists("/proc/kcore"))
        {
            // This kernel has no /proc/kcore (CONFIG_PROC_KCORE off): nothing to mask, nothing to reach.
            Assert.That(lines[0], Is.EqualTo("write: No such file or directory"), r.ToString());
            return;
        }
        // Masked by /dev/null: reads nothing, and a write goes nowhere.
        Assert.That(lines[0], Is.EqualTo("write: ok").Or.EqualTo("write: Permission denied"), r.ToString());
        Assert.That((lines[1], lines[2]), Is.EqualTo(("0", "1")), r.ToString());
    }

    [Test]
    public void HostProcessesCannotBeTraced()
    {
        // The test runner's own host pid: not in the container's PID namespace, whatever the number.
        int host = Environment.ProcessId;
        var r = Integration.Probe.Ops([], $"ptrace {host}");
        Assert.That(r.Stdout, Does.StartWith($"ptrace: No such process\n"), r.ToString());
        var status = File.ReadAllText($"/proc/{host}/status");
        Assert.That(status, Does.Contain("TracerPid:\t0"));
    }

    [Test]
    public void HostDiskNodeCanBeMadeButNotOpened()
    {
        // The block device behind the host's root filesystem.
        var dev = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')).First(f => f[4] == "/")[2].Split(':');
        var (major, minor) = (dev[0], dev[1]);
        if (major == "0") Assert.Ignore("the host's root is not on a block device");
        var r = Integration.Probe.Ops([], $"mknod /tmp/disk {major} {minor}", "read /tmp/disk", "write /tmp/disk x");
        Assert.That(r.Stdout, Is.EqualTo("mknod: ok\nread: Operation not permitted\nwrite: Operation not permitted\n"), r.ToString());
    }

    [Test]
    public void SetuidBinaryGainsNothingUnderNoNewPrivileges()
    {
        var plain = Run("run", "--rm", "-u", "nobody", "-v", Integration.Probe.Volume, "busybox", "/probe/probe-suid", "euid");
        Assert.That(plain.Stdout, Is.EqualTo("euid=0\n"), "without no_new_privs the setuid bit works (as in docker): " + plain);
        var nnp = Run("run", "--rm", "-u", "nobody", "--security-opt", "no-new-privileges", "-v", Integration.Probe.Volume, "busybox", "/probe/probe-suid", "euid");
        Assert.That(nnp.Stdout, Is.EqualTo("euid=65534\n"), nnp.ToString());
    }

    static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>CVE-2019-5736: init is incrun re-executed inside the container; a container process that
    /// reaches it through /proc/PID/exe (as /proc/1/exe before exec, or via a #!/proc/self/exe entry
    /// point) must not be able to write the binary — neither while init runs (no ETXTBSY luck needed)
    /// nor by reopening an O_PATH handle after it exec'd. Runs a copy of incrun, so a failure could
    /// never damage the binary under test.</summary>
    [TestCase(null)]
    [TestCase("memfd")]
    public unsafe void RuntimeBinaryCannotBeOverwrittenThroughProcExe(string? mode)
    {
        var dir = Path.Combine(Incrun.StateRoot, "victim-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var victim = Path.Combine(dir, "incrun");
        File.Copy(Incrun.Binary, victim);
        File.SetUnixFileMode(victim, (UnixFileMode)Convert.ToInt32("755", 8));
        var before = Hash(victim);
        // The runtime reads --env-file after it spawned init: a FIFO holds init alive, before exec.
        var fifo = Path.Combine(dir, "env");
        Assert.That(Process.Start("mkfifo", [fifo])!.WaitForExitAsync().Wait(10_000), Is.True);
        var psi = Incrun.StartInfo(["run", "--rm", "--env-file", fifo, "busybox", "true"], victim);
        if (mode is not null) psi.Environment["INCRUN_REEXEC"] = mode;
        using var runtime = Process.Start(psi)!;
        int opath = -1;
        try
        {
            int init = WaitForInit(runtime.Id);
            var exe = $"/proc/{init}/exe";
            // A file on a detached mount reads as "/" (the mount's root); the memfd as "/memfd:incrun (deleted)".
            Assert.That(File.ResolveLinkTarget(exe, false)?.FullName ?? "", mode is null ? Is.EqualTo("/") : Does.Contain("memfd:incrun"));
            int w = Libc.open(exe, Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
            int openErrno = Libc.Errno;
            if (w >= 0) Libc.close(w);
            // While init runs the file is also busy (ETXTBSY); the read-only mount answers EROFS below.
            Assert.That(w, Is.EqualTo(-1), "opening init's binary for writing");
            Assert.That(openErrno, Is.EqualTo(30 /* EROFS */).Or.EqualTo(26 /* ETXTBSY */));
            opath = Libc.open(exe, Libc.O_PATH | Libc.O_CLOEXEC, 0);
            Assert.That(opath, Is.GreaterThanOrEqualTo(0));
        }
        finally
        {
            File.WriteAllText(fifo, "X=1\n");     // let the run go on
            runtime.WaitForExit(30_000);
        }
        Assert.That(runtime.ExitCode, Is.EqualTo(0), runtime.StandardError.ReadToEnd());
        try
        {
            // Init has exec'd busybox and exited: no ETXTBSY any more. Reopen the handle for writing.
            int fd = Libc.open($"/proc/self/fd/{opath}", Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
            int errno = Libc.Errno;
            if (fd >= 0)
            {
                byte x = (byte)'x';
                long written = Libc.write(fd, &x, 1);
                errno = Libc.Errno;
                Libc.close(fd);
                Assert.That(written, Is.EqualTo(-1), "a write through the reopened handle succeeded");
                Assert.That(errno, Is.EqualTo(1 /* EPERM: sealed */));
            }
            else Assert.That(errno, Is.EqualTo(30 /* EROFS */), "reopening for writing");
        }
        finally { Libc.close(opath); }
        Assert.That(Hash(victim), Is.EqualTo(before), "the runtime binary changed");
        Directory.Delete(dir, true);
    }

    /// <summary>CVE-2024-21626: a working directory of /proc/self/fd/N is a host directory if the runtime
    /// leaks a directory fd into init or into an exec'd process. Neither may start a command there.</summary>
    [Test]
    public void WorkdirThroughProcSelfFdNeverStartsInAHostDirectory()
    {
        for (int n = 3; n <= 12; n++)
        {
            var r = Run("run", "--rm", "--network", "none", "-w", $"/proc/self/fd/{n}", "busybox", "pwd");
            Assert.That((r.ExitCode, r.Stdout), Is.EqualTo((125, "")), $"run -w /proc/self/fd/{n}: {r}");
        }
        var id = Run("run", "-d", "--network", "none", "busybox", "sleep", "60").Stdout.Trim();
        try
        {
            for (int n = 3; n <= 12; n++)
            {
                var r = Run("exec", "-w", $"/proc/self/fd/{n}", id, "pwd");
                Assert.That(r.ExitCode, Is.Not.EqualTo(0), $"exec -w /proc/self/fd/{n}: {r}");
                Assert.That(r.Stdout, Is.Empty, $"exec -w /proc/self/fd/{n}: {r}");
            }
        }
        finally { Run("rm", "-f", id); }
    }

    static int WaitForInit(int runtime)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var child in Incrun.ChildrenOf(runtime))
            {
                try
                {
                    if (File.ReadAllText($"/proc/{child}/cmdline") == "incrun\0init\0") return child;
                }
                catch (IOException) { }
            }
            Thread.Sleep(5);
        }
        throw new TimeoutException("init did not appear");
    }
}
