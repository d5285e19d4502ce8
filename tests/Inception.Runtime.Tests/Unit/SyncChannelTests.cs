using System.Text;
using Inception.Runtime.Container;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>The runtime ↔ init socketpair: message kinds, errors that keep their errno and exit code
/// across the boundary, fds passed with SCM_RIGHTS, end-of-file.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public unsafe class SyncChannelTests
{
    SyncChannel _runtime = null!, _init = null!;

    [SetUp]
    public void CreatePair() => (_runtime, _init) = SyncChannel.CreatePair();

    [TearDown]
    public void DisposePair()
    {
        _runtime.Dispose();
        _init.Dispose();
    }

    RuntimeError RoundTrip(RuntimeError error)
    {
        _init.Send(SyncKind.Error, error);
        var m = _runtime.Receive();
        Assert.That(m, Is.Not.Null);
        Assert.That(m!.Value.Kind, Is.EqualTo(SyncKind.Error));
        Assert.That(m.Value.Fd, Is.EqualTo(-1));
        return m.Value.Error!;
    }

    [Test]
    public void ReadyAndGoTravelBothWaysInOrder()
    {
        _init.Send(SyncKind.Ready);
        _init.Send(SyncKind.Ready);
        _runtime.Send(SyncKind.Go);
        Assert.That(_runtime.Receive(), Is.EqualTo(new SyncMessage(SyncKind.Ready, null, -1)));
        Assert.That(_runtime.Receive(), Is.EqualTo(new SyncMessage(SyncKind.Ready, null, -1)), "seqpacket keeps messages apart");
        Assert.That(_init.Receive(), Is.EqualTo(new SyncMessage(SyncKind.Go, null, -1)));
    }

    [Test]
    public void ErrnoErrorKeepsStepSubjectErrnoAndExitCode()
    {
        var sent = new RuntimeError("pivot_root", "/var/lib/incrun/containers/abc/rootfs", 22);
        var got = RoundTrip(sent);
        Assert.That((got.Step, got.Subject, got.Errno, got.ExitCode, got.Detail), Is.EqualTo(("pivot_root", sent.Subject, 22, 125, (string?)null)));
        Assert.That(got.Message, Is.EqualTo("pivot_root(/var/lib/incrun/containers/abc/rootfs): Invalid argument"));
        Assert.That(got.Message, Is.EqualTo(sent.Message));
    }

    [Test]
    public void PlainErrorKeepsItsExitCode()
    {
        var sent = RuntimeError.Plain("exec: \"nosuch\": executable file not found in $PATH", 127);
        var got = RoundTrip(sent);
        Assert.That(got.Message, Is.EqualTo(sent.Message));
        Assert.That((got.Step, got.Subject, got.Errno, got.ExitCode), Is.EqualTo(("", (string?)null, 0, 127)));
    }

    [Test]
    public void DetailWithErrnoAndUnicodeSurvive()
    {
        var sent = new RuntimeError("exec", "/bin/ünïcødé", 13, "permission denied (not executable)", 126);
        var got = RoundTrip(sent);
        Assert.That(got.Message, Is.EqualTo("exec(/bin/ünïcødé): permission denied (not executable)"));
        Assert.That((got.Errno, got.ExitCode, got.Detail), Is.EqualTo((13, 126, sent.Detail)));
    }

    [Test]
    public void ExitCodeZeroArrivesAsDockersRuntimeErrorCode() =>
        Assert.That(RoundTrip(new RuntimeError("mount", "/proc", 1, exitCode: 0)).ExitCode, Is.EqualTo(125));

    [Test]
    public void VeryLongErrorsAreTruncatedNotRejected()
    {
        var got = RoundTrip(RuntimeError.Plain(new string('x', 5000)));
        Assert.That(got.Message, Is.EqualTo(new string('x', 1998)), "2000 characters including the two separators");
    }

    [Test]
    public void FdPassedWithScmRightsIsUsable()
    {
        int* p = stackalloc int[2];
        Assert.That(Libc.pipe2(p, Libc.O_CLOEXEC), Is.Zero);
        int readEnd = p[0], writeEnd = p[1];
        try
        {
            _init.Send(SyncKind.Pty, passFd: writeEnd);
            var m = _runtime.Receive();
            Assert.That(m!.Value.Kind, Is.EqualTo(SyncKind.Pty));
            int received = m.Value.Fd;
            Assert.That(received, Is.GreaterThanOrEqualTo(0).And.Not.EqualTo(writeEnd));
            Libc.close(writeEnd);
            writeEnd = -1;

            var hello = "hello through SCM_RIGHTS"u8.ToArray();
            fixed (byte* b = hello) Assert.That((int)Libc.write(received, b, (nuint)hello.Length), Is.EqualTo(hello.Length));
            Libc.close(received);

            var buf = new byte[64];
            nint n;
            fixed (byte* b = buf) n = Libc.read(readEnd, b, (nuint)buf.Length);
            Assert.That(Encoding.ASCII.GetString(buf, 0, (int)n), Is.EqualTo("hello through SCM_RIGHTS"));
            fixed (byte* b = buf) n = Libc.read(readEnd, b, (nuint)buf.Length);
            Assert.That((int)n, Is.Zero, "the received fd was the only remaining write end");
        }
        finally
        {
            Libc.close(readEnd);
            if (writeEnd >= 0) Libc.close(writeEnd);
        }
    }

    [Test]
    public void EndOfFileAfterThePeerIsDisposed()
    {
        _init.Send(SyncKind.Ready);
        _init.Dispose();
        Assert.That(_init.Fd, Is.EqualTo(-1));
        Assert.That(_runtime.Receive()?.Kind, Is.EqualTo(SyncKind.Ready), "a message sent before closing is still delivered");
        Assert.That(_runtime.Receive(), Is.Null);
        Assert.That(_runtime.Receive(), Is.Null, "EOF stays EOF");
    }

    [Test]
    public void SendingToAClosedPeerFailsWithEpipe()
    {
        _runtime.Dispose();
        var e = Assert.Throws<RuntimeError>(() => _init.Send(SyncKind.Ready));
        Assert.That(e!.Step, Is.EqualTo("sendmsg"));
        Assert.That(e.Errno, Is.EqualTo(32 /* EPIPE */));
    }
}
