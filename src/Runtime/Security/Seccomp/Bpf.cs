namespace Inception.Runtime.Security.Seccomp;

/// <summary>One classic-BPF instruction (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k).</summary>
public readonly record struct BpfInstruction(ushort Code, byte Jt, byte Jf, uint K)
{
    public const int Size = 8;

    public static byte[] ToBytes(IReadOnlyList<BpfInstruction> program)
    {
        var bytes = new byte[program.Count * Size];
        for (int i = 0; i < program.Count; i++)
        {
            var span = bytes.AsSpan(i * Size);
            BitConverter.TryWriteBytes(span, program[i].Code);
            span[2] = program[i].Jt;
            span[3] = program[i].Jf;
            BitConverter.TryWriteBytes(span[4..], program[i].K);
        }
        return bytes;
    }

    public static BpfInstruction[] FromBytes(ReadOnlySpan<byte> bytes)
    {
        var program = new BpfInstruction[bytes.Length / Size];
        for (int i = 0; i < program.Length; i++)
        {
            var span = bytes[(i * Size)..];
            program[i] = new(BitConverter.ToUInt16(span), span[2], span[3], BitConverter.ToUInt32(span[4..]));
        }
        return program;
    }
}

/// <summary>The classic-BPF opcodes a seccomp filter uses (linux/filter.h) and the kernel's seccomp
/// constants (linux/seccomp.h, linux/audit.h).</summary>
public static class Bpf
{
    public const ushort LdAbsW = 0x20;   // BPF_LD|BPF_W|BPF_ABS: A = *(u32 *)(data + k)
    public const ushort AndK = 0x54;     // BPF_ALU|BPF_AND|BPF_K: A &= k
    public const ushort Ja = 0x05;       // BPF_JMP|BPF_JA: pc += k
    public const ushort JeqK = 0x15;     // BPF_JMP|BPF_JEQ|BPF_K
    public const ushort JgtK = 0x25;     // BPF_JMP|BPF_JGT|BPF_K (unsigned)
    public const ushort JgeK = 0x35;     // BPF_JMP|BPF_JGE|BPF_K (unsigned)
    public const ushort RetK = 0x06;     // BPF_RET|BPF_K

    /// <summary>The kernel's limit on a filter's length (BPF_MAXINSNS).</summary>
    public const int MaxInstructions = 4096;

    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    public const uint OffsetNr = 0, OffsetArch = 4;
    public static uint OffsetArgLow(uint index) => 16 + 8 * index;
    public static uint OffsetArgHigh(uint index) => 16 + 8 * index + 4;

    public const uint AuditArchX86_64 = 0xC000003E;
    public const uint AuditArchI386 = 0x40000003;
    /// <summary>x32 system calls arrive with arch x86_64 and this bit set in the number.</summary>
    public const uint X32SyscallBit = 0x40000000;

    public const uint RetKillProcess = 0x80000000, RetKillThread = 0, RetTrap = 0x00030000, RetErrno = 0x00050000,
        RetUserNotif = 0x7fc00000, RetTrace = 0x7ff00000, RetLog = 0x7ffc0000, RetAllow = 0x7fff0000;
    public const uint RetActionFull = 0xffff0000, RetData = 0x0000ffff;

    public const uint FilterFlagTsync = 1, FilterFlagLog = 2, FilterFlagSpecAllow = 4;
}
