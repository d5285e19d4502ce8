using Inception.Runtime.Rootfs;
using NUnit.Framework;
using static Inception.Runtime.Syscalls.MountFlags;

namespace Inception.Runtime.Tests.Unit;

/// <summary>OCI mount options → mount(2) flags, propagation and data (runc's table).</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class MountOptionsTests
{
    [Test]
    public void NullAndEmptyMeanNothing()
    {
        Assert.That(MountOptions.Parse(null), Is.EqualTo(new MountOptions(0, 0, null)));
        Assert.That(MountOptions.Parse([]), Is.EqualTo(new MountOptions(0, 0, null)));
    }

    [Test]
    public void FlagsPropagationAndDataAreSplit()
    {
        var o = MountOptions.Parse(["nosuid", "strictatime", "mode=755", "size=65536k", "rprivate"]);
        Assert.That(o.Flags, Is.EqualTo(MS_NOSUID | MS_STRICTATIME));
        Assert.That(o.Propagation, Is.EqualTo(MS_PRIVATE | MS_REC));
        Assert.That(o.Data, Is.EqualTo("mode=755,size=65536k"));
        Assert.That(o.IsBind, Is.False);
    }

    [Test]
    public void LaterOptionsWin()
    {
        Assert.That(MountOptions.Parse(["ro", "rw"]).IsReadonly, Is.False);
        Assert.That(MountOptions.Parse(["rw", "ro"]).IsReadonly, Is.True);
        Assert.That(MountOptions.Parse(["nosuid", "suid", "nodev", "dev", "noexec", "exec"]).Flags, Is.Zero);
        Assert.That(MountOptions.Parse(["noatime", "atime", "relatime"]).Flags, Is.EqualTo(MS_RELATIME));
    }

    [TestCase("bind", MS_BIND)]
    [TestCase("rbind", MS_BIND | MS_REC)]
    [TestCase("ro", MS_RDONLY)]
    [TestCase("sync", MS_SYNCHRONOUS)]
    [TestCase("dirsync", MS_DIRSYNC)]
    [TestCase("remount", MS_REMOUNT)]
    [TestCase("mand", MS_MANDLOCK)]
    [TestCase("noatime", MS_NOATIME)]
    [TestCase("nodiratime", MS_NODIRATIME)]
    [TestCase("lazytime", MS_LAZYTIME)]
    [TestCase("nosymfollow", MS_NOSYMFOLLOW)]
    public void SingleFlags(string option, ulong flag)
    {
        var o = MountOptions.Parse([option]);
        Assert.That((o.Flags, o.Propagation, o.Data), Is.EqualTo((flag, 0UL, (string?)null)));
    }

    [Test]
    public void BindReadonly()
    {
        var o = MountOptions.Parse(["rbind", "rprivate", "ro"]);
        Assert.That(o.IsBind && o.IsReadonly, Is.True);
        Assert.That(o.Flags, Is.EqualTo(MS_BIND | MS_REC | MS_RDONLY));
        Assert.That(o.Propagation, Is.EqualTo(MS_PRIVATE | MS_REC));
    }

    [Test]
    public void UnknownOptionsKeepTheirOrderInData() =>
        Assert.That(MountOptions.Parse(["newinstance", "nosuid", "ptmxmode=0666", "mode=0620", "gid=5"]).Data,
            Is.EqualTo("newinstance,ptmxmode=0666,mode=0620,gid=5"));

    [TestCase("private", MS_PRIVATE)]
    [TestCase("rprivate", MS_PRIVATE | MS_REC)]
    [TestCase("shared", MS_SHARED)]
    [TestCase("rshared", MS_SHARED | MS_REC)]
    [TestCase("slave", MS_SLAVE)]
    [TestCase("rslave", MS_SLAVE | MS_REC)]
    [TestCase("unbindable", MS_UNBINDABLE)]
    [TestCase("runbindable", MS_UNBINDABLE | MS_REC)]
    public void Propagation(string word, ulong flags)
    {
        Assert.That(MountOptions.PropagationOf(word), Is.EqualTo(flags));
        Assert.That(MountOptions.Parse([word]).Propagation, Is.EqualTo(flags));
        Assert.That(MountOptions.Parse([word]).Flags, Is.Zero);
    }

    [TestCase(null), TestCase(""), TestCase("bogus"), TestCase("ro")]
    public void PropagationOfAnythingElseIsZero(string? word) => Assert.That(MountOptions.PropagationOf(word), Is.Zero);

    [Test]
    public void FlagNamesForTraces()
    {
        Assert.That(Format(0), Is.EqualTo("0"));
        Assert.That(Format(MS_BIND | MS_REC | MS_RDONLY), Is.EqualTo("MS_RDONLY|MS_BIND|MS_REC"));
        Assert.That(Format(MS_SLAVE | MS_REC), Is.EqualTo("MS_REC|MS_SLAVE"));
    }
}
