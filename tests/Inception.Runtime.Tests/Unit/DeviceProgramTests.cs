using Inception.Runtime.Cgroups;
using Inception.Runtime.Oci;
using Inception.Runtime.Security;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>The generated cgroup v2 device program, run by a small eBPF interpreter over the requests the
/// kernel would make: it must decide as the v1 devices controller does with the same rules.</summary>
public class DeviceProgramTests
{
    const int Mknod = 1, Read = 2, Write = 4, Block = 1, Char = 2;

    /// <summary>Executes the program on one bpf_cgroup_dev_ctx; true = allowed.</summary>
    static bool Allows(DeviceProgram.Insn[] prog, int type, int access, uint major, uint minor)
    {
        var ctx = new uint[] { (uint)(access << 16 | type), major, minor };
        var r = new ulong[11];
        for (int pc = 0, steps = 0; steps < 10000; pc++, steps++)
        {
            var i = prog[pc];
            int dst = i.Regs & 0xf, src = i.Regs >> 4;
            switch (i.Code)
            {
                case 0x61: Assert.That(src, Is.EqualTo(1), "loads only from the context"); r[dst] = ctx[i.Off / 4]; break;
                case 0xbf: r[dst] = r[src]; break;
                case 0xb7: r[dst] = (ulong)(long)i.Imm; break;
                case 0x54: r[dst] = (uint)r[dst] & (uint)i.Imm; break;
                case 0x74: r[dst] = (uint)r[dst] >> i.Imm; break;
                case 0x55: if (r[dst] != (ulong)(long)i.Imm) pc += i.Off; break;
                case 0x15: if (r[dst] == (ulong)(long)i.Imm) pc += i.Off; break;
                case 0x95: return r[0] switch { 1 => true, 0 => false, var v => throw new AssertionException($"returned {v}") };
                default: throw new AssertionException($"unexpected opcode 0x{i.Code:x2}");
            }
            Assert.That(pc + 1, Is.LessThan(prog.Length), "ran off the end");
        }
        throw new AssertionException("no exit");
    }

    static DeviceProgram.Insn[] Docker(params (LinuxDevice, string)[] added) => DeviceProgram.Generate(Devices.Rules(added, privileged: false))!;

    [TestCase(1, 3, Read | Write, true, TestName = "/dev/null rw")]
    [TestCase(1, 5, Read, true, TestName = "/dev/zero r")]
    [TestCase(1, 9, Read, true, TestName = "/dev/urandom r")]
    [TestCase(5, 2, Read | Write, true, TestName = "/dev/ptmx rw")]
    [TestCase(136, 7, Read | Write, true, TestName = "/dev/pts/7 rw")]
    [TestCase(10, 200, Read | Write, true, TestName = "/dev/net/tun rw")]
    [TestCase(1, 1, Read, false, TestName = "/dev/mem r")]
    [TestCase(10, 259, Read, false, TestName = "/dev/cpu_dma_latency r")]
    [TestCase(4, 0, Write, false, TestName = "/dev/tty0 w")]
    [TestCase(1, 1, Mknod, true, TestName = "mknod c 1 1")]
    public void DockerDefaultCharacterDevices(int major, int minor, int access, bool allowed) =>
        Assert.That(Allows(Docker(), Char, access, (uint)major, (uint)minor), Is.EqualTo(allowed));

    [Test]
    public void BlockDevicesCanBeMadeButNotOpened()
    {
        var p = Docker();
        Assert.That(Allows(p, Block, Mknod, 8, 0), Is.True);
        Assert.That(Allows(p, Block, Read, 8, 0), Is.False);
        Assert.That(Allows(p, Block, Read | Write, 7, 0), Is.False);
        Assert.That(Allows(p, Char, Mknod | Read, 1, 1), Is.False, "mknod with read is more than the m rule grants");
    }

    [Test]
    public void AnAddedDeviceGetsExactlyItsAccess()
    {
        var p = Docker((new LinuxDevice { Path = "/dev/lat", Type = "c", Major = 10, Minor = 259 }, "r"),
                       (new LinuxDevice { Path = "/dev/sdz", Type = "b", Major = 8, Minor = 16 }, "rw"));
        Assert.That(Allows(p, Char, Read, 10, 259), Is.True);
        Assert.That(Allows(p, Char, Write, 10, 259), Is.False);
        Assert.That(Allows(p, Char, Read | Write, 10, 259), Is.False);
        Assert.That(Allows(p, Block, Read | Write, 8, 16), Is.True);
        Assert.That(Allows(p, Block, Read, 8, 17), Is.False);
        Assert.That(Allows(p, Char, Read, 8, 16), Is.False, "a block rule does not open the character device");
    }

    [Test]
    public void TheLastMatchingRuleWins()
    {
        var rules = new List<LinuxDeviceCgroup>
        {
            new() { Allow = true, Access = "rwm" },
            new() { Allow = false, Type = "c", Major = 1, Minor = 3, Access = "w" },
            new() { Allow = false, Type = "b", Access = "rwm" },
            new() { Allow = true, Type = "b", Major = 7, Access = "r" },
        };
        var p = DeviceProgram.Generate(rules)!;
        Assert.That(Allows(p, Char, Read, 1, 3), Is.True);
        Assert.That(Allows(p, Char, Write, 1, 3), Is.False, "a deny rule matches when it names any requested access");
        Assert.That(Allows(p, Char, Read | Write, 1, 3), Is.False);
        Assert.That(Allows(p, Block, Read, 8, 0), Is.False);
        Assert.That(Allows(p, Block, Read, 7, 3), Is.True);
        Assert.That(Allows(p, Block, Write, 7, 3), Is.False);
        Assert.That(Allows(p, Char, Read | Write, 4, 1), Is.True, "the allow-all wildcard below the exceptions");
    }

    [Test]
    public void AWildcardForgetsTheRulesBeforeIt()
    {
        var denyThenAllowAll = DeviceProgram.Generate([new() { Allow = false, Type = "c", Major = 1, Minor = 3, Access = "rwm" }, new() { Allow = true, Access = "rwm" }]);
        Assert.That(denyThenAllowAll, Is.Null, "everything allowed: no program at all");
        var allowThenDenyAll = DeviceProgram.Generate([new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" }, new() { Allow = false, Access = "rwm" }])!;
        Assert.That(Allows(allowThenDenyAll, Char, Read, 1, 3), Is.False);
        Assert.That(allowThenDenyAll, Has.Length.EqualTo(8), "the prologue and the verdict only");
    }

    [Test]
    public void PrivilegedNeedsNoProgram()
    {
        Assert.That(DeviceProgram.Generate(Devices.Rules([], privileged: true)), Is.Null);
        Assert.That(DeviceProgram.Generate([]), Is.Null);
    }

    [Test]
    public void WithoutAWildcardUnmatchedRequestsAreAllowedAsInV1()
    {
        var p = DeviceProgram.Generate([new() { Allow = false, Type = "c", Major = 10, Minor = 259, Access = "rwm" }])!;
        Assert.That(Allows(p, Char, Read, 10, 259), Is.False);
        Assert.That(Allows(p, Char, Read, 1, 3), Is.True);
    }
}
