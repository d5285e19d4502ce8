using System.Diagnostics;
using System.Text;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>-t through a real pty: util-linux `script` runs incrun on a pty of its own, as a terminal would.</summary>
public sealed class TtyTests : ContainerTest
{
    internal static ProcessStartInfo Script(string shellCommand) =>
        Incrun.StartInfo(["-qefc", shellCommand, "/dev/null"], "script");

    internal static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [Test]
    public void TtyInsideWithTheHostsWindowSize()
    {
        var inner = "[ -t 0 ] && [ -t 1 ] && echo IS-A-TTY; stty size; tty; echo TERM=$TERM";
        var r = Incrun.Exec(Script($"stty rows 33 cols 101; {Incrun.Binary} run -it --rm busybox sh -c {Q(inner)}"), null, TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Contain("IS-A-TTY"));
        Assert.That(r.Stdout, Does.Contain("33 101"));
        Assert.That(r.Stdout, Does.Match(@"/dev/pts/\d+"));
        Assert.That(r.Stdout, Does.Contain("TERM=xterm"));
    }

    [Test]
    public void ExitCodeComesBackThroughTheTty()
    {
        var r = Incrun.Exec(Script($"{Incrun.Binary} run -t --rm busybox sh -c 'exit 9'"), null, TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.EqualTo(9), r.ToString());
    }

    [Test]
    public void CtrlCReachesTheContainer()
    {
        var inner = "trap 'echo GOT-SIGINT; exit 3' INT; echo READY; while :; do sleep 0.1; done";
        using var p = Process.Start(Script($"{Incrun.Binary} run -it --rm busybox sh -c {Q(inner)}"))!;
        var output = new StringBuilder();
        var ready = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            var buf = new char[256];
            int n;
            while ((n = p.StandardOutput.Read(buf, 0, buf.Length)) > 0)
            {
                lock (output) output.Append(buf, 0, n);
                if (output.ToString().Contains("READY")) ready.Set();
            }
        });
        reader.Start();
        Assert.That(ready.Wait(TimeSpan.FromSeconds(30)), Is.True, "no READY: " + output);
        p.StandardInput.Write('\u0003');
        p.StandardInput.Flush();
        Assert.That(p.WaitForExit(15000), Is.True, "Ctrl-C did not stop the container: " + output);
        reader.Join();
        Assert.That(output.ToString(), Does.Contain("GOT-SIGINT"));
        Assert.That(p.ExitCode, Is.EqualTo(3));
    }

    [Test]
    public void HostTerminalIsRestoredAfterwards()
    {
        var r = Incrun.Exec(Script($"stty -g > /tmp/incrun-stty-before; {Incrun.Binary} run -it --rm busybox true; stty -g | cmp -s - /tmp/incrun-stty-before && echo RESTORED; rm -f /tmp/incrun-stty-before"),
            null, TimeSpan.FromSeconds(30));
        Assert.That(r.Stdout, Does.Contain("RESTORED"), r.ToString());
    }
}
