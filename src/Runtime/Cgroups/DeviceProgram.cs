using System.Runtime.InteropServices;
using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Cgroups;

/// <summary>
/// The cgroup v2 device filter: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) generated from the spec's
/// linux.resources.devices rules, attached to the container's cgroup (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
/// before init is cloned into it. It decides as the v1 devices controller does with the same rules: the
/// last rule that matches a request wins; a wildcard rule ("a *:* ...") replaces everything before it; an
/// allow rule matches when it grants every requested access, a deny rule when it names any of them; no
/// match allows (a v1 cgroup inherits its parent's, allow-all, list). The kernel frees the program with
/// the cgroup (its only reference after attach), so removing the cgroup leaves nothing behind.
/// </summary>
public static unsafe class DeviceProgram
{
    const long SYS_bpf = 321;
    const int BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_GET_FD_BY_ID = 13, BPF_PROG_QUERY = 16;
    const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15, BPF_CGROUP_DEVICE = 6, BPF_F_ALLOW_MULTI = 2;
    const int AttrSize = 128;

    // struct bpf_cgroup_dev_ctx { u32 access_type /* access << 16 | type */; u32 major; u32 minor; }
    const int DevBlock = 1, DevChar = 2, AccMknod = 1, AccRead = 2, AccWrite = 4;

    /// <summary>One eBPF instruction (struct bpf_insn): opcode, dst/src registers, offset, immediate.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public readonly record struct Insn(byte Code, byte Regs, short Off, int Imm)
    {
        public static Insn Make(byte code, int dst, int src, short off, int imm) => new(code, (byte)(dst | (src << 4)), off, imm);
    }

    // Opcodes used: 32-bit loads from the context, 32-bit ALU on the access word, 64-bit moves, compares.
    const byte LdxW = 0x61, MovX = 0xbf, MovK = 0xb7, And32K = 0x54, Rsh32K = 0x74, JneK = 0x55, JeqK = 0x15, Exit = 0x95;
    const int R0 = 0, R1 = 1, RAccess = 2, RType = 3, RMajor = 4, RMinor = 5;

    /// <summary>The program for <paramref name="rules"/>, or null when it would allow everything
    /// (privileged: no program is cheaper than one that says yes).</summary>
    public static Insn[]? Generate(IReadOnlyList<LinuxDeviceCgroup> rules)
    {
        // Only the rules after the last wildcard count: a wildcard resets the list as in v1.
        int start = 0;
        for (int i = rules.Count - 1; i >= 0; i--)
            if (IsWildcard(rules[i])) { start = i; break; }
        var live = rules.Skip(start).ToList();
        if (live.Count == 0) return null;
        if (live.Count > 0 && IsWildcard(live[0]) && live.All(r => r.Allow)) return null;

        var code = new List<Insn>
        {
            Insn.Make(LdxW, RAccess, R1, 0, 0),          // r2 = ctx->access_type
            Insn.Make(MovX, RType, RAccess, 0, 0),       // r3 = r2
            Insn.Make(And32K, RType, 0, 0, 0xffff),      // r3 &= 0xffff       (device type)
            Insn.Make(Rsh32K, RAccess, 0, 0, 16),        // r2 >>= 16          (requested access)
            Insn.Make(LdxW, RMajor, R1, 4, 0),           // r4 = ctx->major
            Insn.Make(LdxW, RMinor, R1, 8, 0),           // r5 = ctx->minor
        };
        // Last matching rule wins: test the rules from the last to the first, each one a block that
        // returns its verdict on a match and otherwise jumps to the next block. The wildcard that starts
        // the live rules (if any) decides everything no later rule matched.
        bool otherwise = true;
        for (int i = live.Count - 1; i >= 0; i--)
        {
            var r = live[i];
            if (IsWildcard(r)) { otherwise = r.Allow; break; }
            var tests = new List<Insn>();
            var type = r.Type switch { "b" => DevBlock, "c" => DevChar, "a" => 0, var t => throw RuntimeError.Plain($"device rule: unknown type {t}") };
            if (type != 0) tests.Add(Insn.Make(JneK, RType, 0, 0, type));
            if (r.Major is { } major && major >= 0) tests.Add(Insn.Make(JneK, RMajor, 0, 0, (int)major));
            if (r.Minor is { } minor && minor >= 0) tests.Add(Insn.Make(JneK, RMinor, 0, 0, (int)minor));
            int access = Access(r);
            if (access != 7)
            {
                tests.Add(Insn.Make(MovX, R0, RAccess, 0, 0));
                // allow: every requested access granted, (requested & ~granted) == 0;
                // deny: any requested access named, (requested & denied) != 0.
                tests.Add(Insn.Make(And32K, R0, 0, 0, r.Allow ? ~access & 7 : access));
                tests.Add(Insn.Make(r.Allow ? JneK : JeqK, R0, 0, 0, 0));
            }
            // A failed test jumps past the rest of the block, the verdict's 2 instructions included.
            for (int t = 0; t < tests.Count; t++)
                if (tests[t].Code is JneK or JeqK) tests[t] = tests[t] with { Off = (short)(tests.Count - t + 1) };
            code.AddRange(tests);
            code.Add(Insn.Make(MovK, R0, 0, 0, r.Allow ? 1 : 0));
            code.Add(Insn.Make(Exit, 0, 0, 0, 0));
        }
        code.Add(Insn.Make(MovK, R0, 0, 0, otherwise ? 1 : 0));
        code.Add(Insn.Make(Exit, 0, 0, 0, 0));
        return [.. code];
    }

    static bool IsWildcard(LinuxDeviceCgroup r) => r.Type is null or "a" && r.Major is null or < 0 && r.Minor is null or < 0;

    static int Access(LinuxDeviceCgroup r)
    {
        int a = 0;
        foreach (var c in r.Access ?? "rwm")
            a |= c switch { 'r' => AccRead, 'w' => AccWrite, 'm' => AccMknod, _ => throw RuntimeError.Plain($"device rule: unknown access {c}") };
        return a;
    }

    /// <summary>Loads the program for <paramref name="rules"/> and attaches it to the cgroup directory
    /// <paramref name="cgroupDir"/>. Returns its length in instructions, 0 when the rules allow everything
    /// (nothing attached).</summary>
    public static int Attach(string cgroupDir, IReadOnlyList<LinuxDeviceCgroup> rules)
    {
        if (Generate(rules) is not { } program) return 0;
        int prog = Load(program);
        try
        {
            int dir = Native.Libc.open(cgroupDir, Native.Libc.O_RDONLY | Native.Libc.O_DIRECTORY | Native.Libc.O_CLOEXEC, 0);
            if (dir < 0) throw new RuntimeError("open", cgroupDir, Native.Libc.Errno);
            try
            {
                byte* attr = stackalloc byte[AttrSize];
                new Span<byte>(attr, AttrSize).Clear();
                *(uint*)(attr + 0) = (uint)dir;              // target_fd
                *(uint*)(attr + 4) = (uint)prog;             // attach_bpf_fd
                *(uint*)(attr + 8) = BPF_CGROUP_DEVICE;      // attach_type
                *(uint*)(attr + 12) = BPF_F_ALLOW_MULTI;     // attach_flags
                if (Bpf(BPF_PROG_ATTACH, attr) < 0)
                    throw new RuntimeError("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)", cgroupDir, Native.Libc.Errno);
            }
            finally { Native.Libc.close(dir); }
        }
        finally { Native.Libc.close(prog); }  // the cgroup holds the program now
        return program.Length;
    }

    static int Load(Insn[] program)
    {
        byte* license = stackalloc byte[] { (byte)'A', (byte)'p', (byte)'a', (byte)'c', (byte)'h', (byte)'e', (byte)'-', (byte)'2', (byte)'.', (byte)'0', 0 };
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        const int logSize = 4096;
        byte* log = stackalloc byte[logSize];
        fixed (Insn* insns = program)
        {
            *(uint*)(attr + 0) = BPF_PROG_TYPE_CGROUP_DEVICE;   // prog_type
            *(uint*)(attr + 4) = (uint)program.Length;          // insn_cnt
            *(ulong*)(attr + 8) = (ulong)insns;                 // insns
            *(ulong*)(attr + 16) = (ulong)license;              // license (no GPL-only helper is called)
            "incrun_devices"u8.CopyTo(new Span<byte>(attr + 48, 16)); // prog_name
            int fd = (int)Bpf(BPF_PROG_LOAD, attr);
            if (fd >= 0) return fd;
            int errno = Native.Libc.Errno;
            // Ask again with the verifier's log for a useful message (the first try skips it: cheaper).
            *(uint*)(attr + 24) = 1;                            // log_level
            *(uint*)(attr + 28) = logSize;                      // log_size
            *(ulong*)(attr + 32) = (ulong)log;                  // log_buf
            log[0] = 0;
            if (Bpf(BPF_PROG_LOAD, attr) is var again and >= 0) return (int)again;
            var text = Marshal.PtrToStringUTF8((nint)log)?.Trim().Split('\n').LastOrDefault();
            throw new RuntimeError("bpf(BPF_PROG_LOAD, cgroup device program)", null, errno, string.IsNullOrEmpty(text) ? null : text);
        }
    }

    static long Bpf(int cmd, byte* attr) => Native.Libc.syscall(SYS_bpf, cmd, (nint)attr, AttrSize, 0);

    /// <summary>The ids of the device programs attached to a cgroup directory (BPF_PROG_QUERY).</summary>
    public static List<uint> Attached(string cgroupDir)
    {
        int dir = Native.Libc.open(cgroupDir, Native.Libc.O_RDONLY | Native.Libc.O_DIRECTORY | Native.Libc.O_CLOEXEC, 0);
        if (dir < 0) throw new RuntimeError("open", cgroupDir, Native.Libc.Errno);
        try
        {
            uint* ids = stackalloc uint[64];
            byte* attr = stackalloc byte[AttrSize];
            new Span<byte>(attr, AttrSize).Clear();
            *(uint*)(attr + 0) = (uint)dir;             // target_fd
            *(uint*)(attr + 4) = BPF_CGROUP_DEVICE;     // attach_type
            *(ulong*)(attr + 16) = (ulong)ids;          // prog_ids
            *(uint*)(attr + 24) = 64;                   // prog_cnt
            if (Bpf(BPF_PROG_QUERY, attr) < 0) throw new RuntimeError("bpf(BPF_PROG_QUERY)", cgroupDir, Native.Libc.Errno);
            return [.. new ReadOnlySpan<uint>(ids, (int)*(uint*)(attr + 24))];
        }
        finally { Native.Libc.close(dir); }
    }

    /// <summary>Whether the kernel still holds the program with this id (false once it is freed).</summary>
    public static bool Exists(uint id)
    {
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)attr = id;                              // prog_id
        long fd = Bpf(BPF_PROG_GET_FD_BY_ID, attr);
        if (fd < 0) return Native.Libc.Errno != 2;      // ENOENT: gone
        Native.Libc.close((int)fd);
        return true;
    }
}
