using System.Text.RegularExpressions;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;
using Inception.Runtime.Security.Seccomp;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>A classic-BPF interpreter for seccomp programs (the subset the kernel's checker accepts and
/// the compiler emits), so compiled filters can be checked verdict by verdict without installing them.</summary>
static class BpfInterpreter
{
    public static uint Run(BpfInstruction[] program, int nr, ulong[]? args = null, uint arch = Bpf.AuditArchX86_64)
    {
        var data = new byte[64];
        BitConverter.TryWriteBytes(data.AsSpan(0), nr);
        BitConverter.TryWriteBytes(data.AsSpan(4), arch);
        for (int i = 0; i < (args?.Length ?? 0); i++) BitConverter.TryWriteBytes(data.AsSpan(16 + 8 * i), args![i]);
        uint a = 0;
        for (int pc = 0, steps = 0; ; pc++, steps++)
        {
            if (pc >= program.Length) throw new InvalidOperationException("ran off the end of the program");
            var ins = program[pc];
            switch (ins.Code)
            {
                case Bpf.LdAbsW:
                    if (ins.K > 60 || ins.K % 4 != 0) throw new InvalidOperationException($"bad load offset {ins.K}");
                    a = BitConverter.ToUInt32(data, (int)ins.K); break;
                case Bpf.AndK: a &= ins.K; break;
                case Bpf.Ja: pc += (int)ins.K; break;
                case Bpf.JeqK: pc += a == ins.K ? ins.Jt : ins.Jf; break;
                case Bpf.JgtK: pc += a > ins.K ? ins.Jt : ins.Jf; break;
                case Bpf.JgeK: pc += a >= ins.K ? ins.Jt : ins.Jf; break;
                case Bpf.RetK: return ins.K;
                default: throw new InvalidOperationException($"unexpected opcode 0x{ins.Code:x}");
            }
        }
    }
}

public class SeccompCompilerTests
{
    const uint Allow = Bpf.RetAllow, Eperm = Bpf.RetErrno | 1, Enosys = Bpf.RetErrno | 38;

    static int Nr(string name) => SyscallTable.Number(name);

    static BpfInstruction[] Docker(params string[] extraCaps) =>
        SeccompCompiler.Compile(DefaultProfile.Create().Resolve([.. Security.Capabilities.DockerDefault, .. extraCaps], new Version(6, 18)));

    [Test]
    public void DockerDefaultAllowsOrdinaryCallsAndDeniesTheDangerousOnes()
    {
        var p = Docker();
        foreach (var name in new[] { "read", "write", "openat", "execve", "futex", "rt_sigreturn", "exit_group", "close_range", "arch_prctl", "ptrace" })
            Assert.That(BpfInterpreter.Run(p, Nr(name)), Is.EqualTo(Allow), name);
        foreach (var name in new[] { "mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "reboot", "kexec_load",
                     "init_module", "bpf", "userfaultfd", "open_by_handle_at", "swapon", "pivot_root", "acct", "syslog", "_sysctl" })
            Assert.That(BpfInterpreter.Run(p, Nr(name)), Is.EqualTo(Eperm), name);
        Assert.That(p.Length, Is.LessThan(400), "the filter stays short");
    }

    [Test]
    public void DockerDefaultArgumentFilters()
    {
        var p = Docker();
        const ulong SIGCHLD = 17, CLONE_NEWNS = 0x20000, CLONE_NEWUSER = 0x10000000, CLONE_THREAD_FLAGS = 0x3d0f00;
        Assert.That(BpfInterpreter.Run(p, Nr("clone"), [SIGCHLD]), Is.EqualTo(Allow));
        Assert.That(BpfInterpreter.Run(p, Nr("clone"), [CLONE_THREAD_FLAGS]), Is.EqualTo(Allow), "threads");
        Assert.That(BpfInterpreter.Run(p, Nr("clone"), [SIGCHLD | CLONE_NEWNS]), Is.EqualTo(Eperm));
        Assert.That(BpfInterpreter.Run(p, Nr("clone"), [SIGCHLD | CLONE_NEWUSER]), Is.EqualTo(Eperm));
        Assert.That(BpfInterpreter.Run(p, Nr("clone3")), Is.EqualTo(Enosys), "clone3 → ENOSYS, so libc falls back to clone");
        Assert.That(BpfInterpreter.Run(p, Nr("socket"), [2 /* AF_INET */]), Is.EqualTo(Allow));
        Assert.That(BpfInterpreter.Run(p, Nr("socket"), [40 /* AF_VSOCK */]), Is.EqualTo(Eperm));
        Assert.That(BpfInterpreter.Run(p, Nr("socket"), [40 | (1UL << 32)]), Is.EqualTo(Allow), "64-bit compare: a different high word is not equal");
        foreach (var persona in new ulong[] { 0, 8, 0x20000, 0x20008, 0xffffffff })
            Assert.That(BpfInterpreter.Run(p, Nr("personality"), [persona]), Is.EqualTo(Allow), $"personality 0x{persona:x}");
        Assert.That(BpfInterpreter.Run(p, Nr("personality"), [0x0040000 /* ADDR_NO_RANDOMIZE */]), Is.EqualTo(Eperm));
        Assert.That(BpfInterpreter.Run(p, Nr("personality"), [0x1_00000008]), Is.EqualTo(Eperm));
    }

    [Test]
    public void CapSysAdminUnlocksMountUnshareAndNamespaceClones()
    {
        var p = Docker("CAP_SYS_ADMIN");
        foreach (var name in new[] { "mount", "umount2", "unshare", "setns", "clone3", "sethostname" })
            Assert.That(BpfInterpreter.Run(p, Nr(name)), Is.EqualTo(Allow), name);
        Assert.That(BpfInterpreter.Run(p, Nr("clone"), [0x20000 | 17]), Is.EqualTo(Allow));
        Assert.That(BpfInterpreter.Run(p, Nr("keyctl")), Is.EqualTo(Eperm), "keyctl stays denied");
        Assert.That(BpfInterpreter.Run(Docker("CAP_SYS_PTRACE"), Nr("kcmp")), Is.EqualTo(Allow));
        Assert.That(BpfInterpreter.Run(Docker(), Nr("kcmp")), Is.EqualTo(Eperm));
    }

    [Test]
    public void ForeignArchitecturesX32AndUnknownNumbers()
    {
        var p = Docker();
        Assert.That(BpfInterpreter.Run(p, 3 /* i386 close */, arch: Bpf.AuditArchI386), Is.EqualTo(Enosys));
        Assert.That(BpfInterpreter.Run(p, (int)(Bpf.X32SyscallBit | 0), arch: Bpf.AuditArchX86_64), Is.EqualTo(Enosys), "x32 read");
        Assert.That(BpfInterpreter.Run(p, (int)(Bpf.X32SyscallBit | 512)), Is.EqualTo(Enosys));
        Assert.That(BpfInterpreter.Run(p, Nr("fchmodat2")), Is.EqualTo(Enosys), "newer than the profile: ENOSYS, the C library falls back");
        Assert.That(BpfInterpreter.Run(p, 100_000), Is.EqualTo(Enosys));
        Assert.That(BpfInterpreter.Run(p, -1), Is.EqualTo(Enosys));
        Assert.That(BpfInterpreter.Run(p, 400), Is.EqualTo(Eperm), "a hole in the table below the highest named number");
    }

    static LinuxSeccomp Profile(string defaultAction, params LinuxSyscall[] calls) => new() { DefaultAction = defaultAction, Syscalls = [.. calls] };

    static LinuxSyscall Rule(string names, string action, uint? errno = null, params (uint Index, ulong Value, ulong Two, string Op)[] args) =>
        new() { Names = [.. names.Split(' ')], Action = action, ErrnoRet = errno, Args = args.Length == 0 ? null : [.. args.Select(a => new LinuxSeccompArg { Index = a.Index, Value = a.Value, ValueTwo = a.Two, Op = a.Op })] };

    static readonly ulong[] Interesting =
        [0, 1, 2, 7, 8, 9, 0xffffffff, 0x1_00000000, 0x1_00000007, 0x1_00000008, 0x1_00000009, 0x2_00000000, ulong.MaxValue, 0x80000000_00000008];

    [TestCase("SCMP_CMP_EQ")] [TestCase("SCMP_CMP_NE")] [TestCase("SCMP_CMP_LT")] [TestCase("SCMP_CMP_LE")]
    [TestCase("SCMP_CMP_GT")] [TestCase("SCMP_CMP_GE")] [TestCase("SCMP_CMP_MASKED_EQ")]
    public void SixtyFourBitComparisons(string op)
    {
        foreach (var value in Interesting)
        foreach (var two in op == "SCMP_CMP_MASKED_EQ" ? new ulong[] { 0, 8, 0x1_00000000 } : [0UL])
        {
            var p = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule("mkdir", "SCMP_ACT_ERRNO", 13, (2, value, two, op))));
            foreach (var arg in Interesting)
            {
                bool expected = op switch
                {
                    "SCMP_CMP_EQ" => arg == value, "SCMP_CMP_NE" => arg != value, "SCMP_CMP_LT" => arg < value,
                    "SCMP_CMP_LE" => arg <= value, "SCMP_CMP_GT" => arg > value, "SCMP_CMP_GE" => arg >= value,
                    _ => (arg & value) == two,
                };
                Assert.That(BpfInterpreter.Run(p, Nr("mkdir"), [0, 0, arg]), Is.EqualTo(expected ? Bpf.RetErrno | 13 : Allow),
                    $"arg 0x{arg:x} {op} 0x{value:x} (0x{two:x})");
            }
        }
    }

    [Test]
    public void ConditionsOnDifferentArgumentsAreAndedOnTheSameArgumentOred()
    {
        var and = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", Rule("kill", "SCMP_ACT_ALLOW", null, (0, 1, 0, "SCMP_CMP_EQ"), (1, 9, 0, "SCMP_CMP_EQ"))));
        Assert.That(BpfInterpreter.Run(and, Nr("kill"), [1, 9]), Is.EqualTo(Allow));
        Assert.That(BpfInterpreter.Run(and, Nr("kill"), [1, 15]), Is.EqualTo(Eperm));
        var or = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", Rule("kill", "SCMP_ACT_ALLOW", null, (1, 9, 0, "SCMP_CMP_EQ"), (1, 15, 0, "SCMP_CMP_EQ"))));
        Assert.That(BpfInterpreter.Run(or, Nr("kill"), [1, 9]), Is.EqualTo(Allow));
        Assert.That(BpfInterpreter.Run(or, Nr("kill"), [1, 15]), Is.EqualTo(Allow));
        Assert.That(BpfInterpreter.Run(or, Nr("kill"), [1, 2]), Is.EqualTo(Eperm));
    }

    [Test]
    public void LongProgramsUseFarJumps()
    {
        // Every call gets its own argument check: the tree's jumps to the leaves exceed 255 instructions.
        var names = SyscallTable.All.Where(c => c.Number < 300).Select(c => c.Name).ToList();
        var calls = names.Select(n => Rule(n, "SCMP_ACT_ALLOW", null, (0, (ulong)SyscallTable.Number(n), 0, "SCMP_CMP_EQ"))).ToArray();
        var p = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", calls));
        Assert.That(p.Length, Is.GreaterThan(1000));
        Assert.That(p.Any(i => i.Code == Bpf.Ja), "trampolines were needed");
        foreach (var n in names)
        {
            int nr = SyscallTable.Number(n);
            Assert.That(BpfInterpreter.Run(p, nr, [(ulong)nr]), Is.EqualTo(Allow), n);
            Assert.That(BpfInterpreter.Run(p, nr, [(ulong)nr + 1]), Is.EqualTo(Eperm), n);
        }
    }

    [Test]
    public void TooLongAProgramIsRefused()
    {
        var calls = Enumerable.Range(0, 1100).Select(i => Rule("kill", "SCMP_ACT_ALLOW", null, (0, (ulong)i, 0, "SCMP_CMP_EQ"))).ToArray();
        var e = Assert.Throws<RuntimeError>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", calls)));
        Assert.That(e!.Message, Does.Contain("more than the kernel's 4096"));
    }

    [Test]
    public void ActionsAndErrnos()
    {
        var p = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW",
            Rule("mkdir", "SCMP_ACT_ERRNO", 28), Rule("rmdir", "SCMP_ACT_ERRNO"), Rule("kill", "SCMP_ACT_KILL_PROCESS"),
            Rule("tkill", "SCMP_ACT_KILL"), Rule("getpid", "SCMP_ACT_TRAP"), Rule("getppid", "SCMP_ACT_LOG"), Rule("no_such_call", "SCMP_ACT_KILL")));
        Assert.That(BpfInterpreter.Run(p, Nr("mkdir")), Is.EqualTo(Bpf.RetErrno | 28));
        Assert.That(BpfInterpreter.Run(p, Nr("rmdir")), Is.EqualTo(Eperm), "SCMP_ACT_ERRNO without errnoRet is EPERM");
        Assert.That(BpfInterpreter.Run(p, Nr("kill")), Is.EqualTo(Bpf.RetKillProcess));
        Assert.That(BpfInterpreter.Run(p, Nr("tkill")), Is.EqualTo(Bpf.RetKillThread));
        Assert.That(BpfInterpreter.Run(p, Nr("getpid")), Is.EqualTo(Bpf.RetTrap));
        Assert.That(BpfInterpreter.Run(p, Nr("getppid")), Is.EqualTo(Bpf.RetLog));
        Assert.That(BpfInterpreter.Run(p, Nr("fchmodat2")), Is.EqualTo(Allow), "an allow-by-default profile has no ENOSYS tail");
        Assert.That(Assert.Throws<RuntimeError>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_BOGUS")))!.Message,
            Is.EqualTo("seccomp: unknown action \"SCMP_ACT_BOGUS\""));
        Assert.That(Assert.Throws<RuntimeError>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule("kill", "SCMP_ACT_ERRNO", null, (6, 0, 0, "SCMP_CMP_EQ")))))!.Message,
            Does.Contain("argument index 6"));
    }

    [Test]
    public void TableMatchesTheKernelHeaders()
    {
        const string header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
        if (!File.Exists(header)) Assert.Ignore($"no {header}");
        var defines = Regex.Matches(File.ReadAllText(header), @"#define __NR_(\w+) (\d+)");
        Assert.That(defines, Has.Count.GreaterThan(300));
        foreach (Match m in defines)
            Assert.That(SyscallTable.Number(m.Groups[1].Value), Is.EqualTo(int.Parse(m.Groups[2].Value)), m.Groups[1].Value);
    }
}

public class SeccompProfileTests
{
    static SeccompProfile Parse(string json) => SeccompProfile.Parse(System.Text.Encoding.UTF8.GetBytes(json), "p.json");

    [Test]
    public void MalformedJsonIsOneLine()
    {
        var e = Assert.Throws<RuntimeError>(() => Parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [ {\"names\": [\"mkdir\"] \n"));
        Assert.That(e!.Message, Does.StartWith("decoding seccomp profile (p.json) failed: invalid JSON at line 3, column "));
        Assert.That(e.Message, Does.Not.Contain("\n"));
        Assert.That(Assert.Throws<RuntimeError>(() => Parse("{}"))!.Message, Is.EqualTo("seccomp profile (p.json) has no defaultAction"));
        Assert.That(Assert.Throws<RuntimeError>(() => Parse("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"""))!.Message,
            Does.Contain("'name' and 'names'"));
    }

    [Test]
    public void ResolveAppliesIncludesExcludesAndArchMap()
    {
        var profile = Parse("""
            {
              "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
              "archMap": [ { "architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"] },
                           { "architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] } ],
              "syscalls": [
                { "names": ["read"], "action": "SCMP_ACT_ALLOW" },
                { "name": "mount", "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"] } },
                { "names": ["kill"], "action": "SCMP_ACT_ALLOW", "excludes": { "caps": ["CAP_KILL"] } },
                { "names": ["cacheflush"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["arm64"] } },
                { "names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "99.0" } },
              ]
            }
            """);
        var r = profile.Resolve(["CAP_KILL"], new Version(6, 1));
        Assert.That(r.Architectures, Is.EqualTo(new[] { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" }));
        Assert.That(r.Syscalls!.SelectMany(s => s.Names), Is.EqualTo(new[] { "read" }));
        var admin = profile.Resolve(["CAP_SYS_ADMIN"], new Version(6, 1));
        Assert.That(admin.Syscalls!.SelectMany(s => s.Names), Is.EqualTo(new[] { "read", "mount", "kill" }));
        Assert.That(SeccompProfile.ParseKernel("6.18.0-rc3-amd64"), Is.EqualTo(new Version(6, 18)));
    }
}

public class SeccompSpecTests
{
    static Oci.LinuxSeccomp? Generate(params string[] flags)
    {
        var o = new Run.RunOptions
        {
            Image = "busybox", Command = ["true"],
            SecurityOpts = [.. flags.Where(f => !f.StartsWith("--"))],
            Privileged = flags.Contains("--privileged"),
            CapAdd = flags.Contains("--sys-admin") ? ["SYS_ADMIN"] : [],
        };
        var paths = new Run.ContainerPaths("/r/rootfs", "/r/upper", "/r/work", "/r/hostname", "/r/hosts", "/r/resolv.conf");
        return Run.SpecGenerator.Generate(o, new Run.ImageDefaults(), ["/l/1"], new string('a', 64), paths, _ => null, null, _ => null)
            .Linux!.Seccomp;
    }

    [Test]
    public void DockersDefaultProfileBecomesTheSpecsLinuxSeccomp()
    {
        var s = Generate()!;
        Assert.That((s.DefaultAction, s.DefaultErrnoRet), Is.EqualTo(("SCMP_ACT_ERRNO", (uint?)1)));
        Assert.That(s.Architectures, Is.EqualTo(new[] { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" }));
        var names = s.Syscalls!.SelectMany(c => c.Names).ToHashSet();
        Assert.That(names, Does.Contain("read").And.Contain("arch_prctl").And.Not.Contain("mount").And.Not.Contain("cacheflush"));
        Assert.That(s.Syscalls!.Single(c => c.Names.Contains("clone3")).ErrnoRet, Is.EqualTo(38));
        var admin = Generate("--sys-admin")!.Syscalls!;
        Assert.That(admin.SelectMany(c => c.Names), Does.Contain("mount"));
        Assert.That(admin.Any(c => c.Names.Contains("clone3") && c.Action == "SCMP_ACT_ERRNO"), Is.False);
    }

    [Test]
    public void UnconfinedAndPrivilegedHaveNone()
    {
        Assert.That(Generate("seccomp=unconfined"), Is.Null);
        Assert.That(Generate("seccomp:unconfined"), Is.Null);
        Assert.That(Generate("--privileged"), Is.Null);
    }
}
