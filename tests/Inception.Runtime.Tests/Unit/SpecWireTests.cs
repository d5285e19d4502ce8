using Inception.Runtime.Oci;
using Inception.Runtime.Run;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>The binary form in which the runtime hands the spec to init must carry every field init reads.</summary>
public class SpecWireTests
{
    static Spec Sample()
    {
        var o = new RunOptions
        {
            Image = "busybox", Command = ["sh", "-c", "echo ü"], Tty = true, Env = ["A=1"], Volumes = ["/srv:/data:ro"],
            User = "incrun", ReadOnly = true, Hostname = "box",
        };
        var paths = new ContainerPaths("/r/rootfs", "/r/upper", "/r/work", "/r/hostname", "/r/hosts", "/r/resolv.conf");
        var spec = SpecGenerator.Generate(o, new ImageDefaults { Env = ["PATH=/bin"] }, ["/l/1", "/l/2"], new string('a', 64), paths,
            p => p == "/etc/passwd" ? "incrun:x:1000:1000::/home/incrun:/bin/sh\n"u8.ToArray() : p == "/etc/group" ? "staff:x:50:incrun\n"u8.ToArray() : null,
            (24, 80), _ => null);
        spec.Process!.User.Umask = 0x1ff;
        spec.Linux!.RootfsPropagation = "rprivate";
        spec.Linux.CgroupsPath = "/incrun/x";
        return spec;
    }

    [Test]
    public void RoundTripKeepsEveryFieldInitReads()
    {
        var spec = Sample();
        var back = SpecWire.Decode(SpecWire.Encode(spec));
        Assert.That(spec.Linux!.Resources, Is.Not.Null);
        spec.Linux.Resources = null; // the runtime applies the cgroup limits itself; init never reads them
        // seccomp travels compiled: init gets the BPF program, not the rules.
        var expected = Security.Seccomp.BpfInstruction.ToBytes(Security.Seccomp.SeccompCompiler.Compile(spec.Linux.Seccomp!));
        Assert.That(back.Linux!.Seccomp!.Program, Is.EqualTo(expected));
        spec.Linux.Seccomp = back.Linux.Seccomp = null;
        // Compare through the OCI JSON document: every field, in order.
        var a = System.Text.Json.JsonSerializer.Serialize(spec, OciJson.Default.Spec);
        var b = System.Text.Json.JsonSerializer.Serialize(back, OciJson.Default.Spec);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(back.Process!.Args, Is.EqualTo(new[] { "sh", "-c", "echo ü" }));
        Assert.That(back.Process.User.AdditionalGids, Is.EqualTo(new[] { 50u }));
        Assert.That(back.Process.ConsoleSize!.Height, Is.EqualTo(24));
        Assert.That(back.Root!.Readonly, Is.True);
    }

    [Test]
    public void NullsStayNull()
    {
        var spec = new Spec { Process = new Process { Args = ["true"] } };
        var back = SpecWire.Decode(SpecWire.Encode(spec));
        Assert.That(back.Root, Is.Null);
        Assert.That(back.Linux, Is.Null);
        Assert.That(back.Annotations, Is.Null);
        Assert.That(back.Hostname, Is.Null);
        Assert.That(back.Process!.User.Umask, Is.Null);
        Assert.That(back.Process.User.AdditionalGids, Is.Null);
    }

    [Test]
    public void UnknownVersionIsRejected()
    {
        var bytes = SpecWire.Encode(new Spec());
        bytes[0] = 99;
        Assert.That(() => SpecWire.Decode(bytes), Throws.TypeOf<InvalidDataException>());
    }
}
