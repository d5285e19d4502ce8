using Inception.Runtime.Errors;
using Inception.Runtime.Oci;

namespace Inception.Runtime.Security.Seccomp;

/// <summary>
/// Compiles an OCI <c>linux.seccomp</c> into a classic-BPF seccomp program for x86_64, without
/// libseccomp. Layout of the program:
/// <code>
///   A = arch;  if A != AUDIT_ARCH_X86_64 → ERRNO(ENOSYS)       (i386 via int 0x80)
///   A = nr;    if A >= 0x40000000        → ERRNO(ENOSYS)       (x32 numbers)
///   binary search over ranges of numbers that share one verdict  (≈ log2(ranges) jumps)
///     leaf: a return, or the argument checks of one system call, rule after rule
///   one RET per distinct verdict, shared
/// </code>
/// A system call the profile does not name gets the default action, except numbers above the highest
/// one the profile names: those get ENOSYS (as runc does), so that a C library falls back from a call
/// newer than the profile (clone3, fchmodat2, …) instead of failing with EPERM.
/// Several rules for one call are tried in profile order (conditional ones first, then the first
/// unconditional one). Within a rule the argument comparisons are ANDed; when one argument index
/// appears twice, each comparison becomes a rule of its own (ORed), as runc does.
/// </summary>
public static class SeccompCompiler
{
    public const uint EPERM = 1, ENOSYS = 38;

    /// <summary>The actions (SCMP_ACT_*) this compiler turns into a seccomp return value, with that value
    /// (its data bits, the errno of ERRNO and TRACE, are added by <see cref="Action"/>).</summary>
    internal static readonly Dictionary<string, uint> Actions = new()
    {
        ["SCMP_ACT_ALLOW"] = Bpf.RetAllow, ["SCMP_ACT_ERRNO"] = Bpf.RetErrno,
        ["SCMP_ACT_KILL"] = Bpf.RetKillThread, ["SCMP_ACT_KILL_THREAD"] = Bpf.RetKillThread,
        ["SCMP_ACT_KILL_PROCESS"] = Bpf.RetKillProcess, ["SCMP_ACT_TRAP"] = Bpf.RetTrap,
        ["SCMP_ACT_TRACE"] = Bpf.RetTrace, ["SCMP_ACT_LOG"] = Bpf.RetLog,
    };

    /// <summary>The seccomp return value of an action name (SCMP_ACT_*), with the errno for
    /// SCMP_ACT_ERRNO / SCMP_ACT_TRACE (EPERM when not given).</summary>
    public static uint Action(string name, uint? errno)
    {
        if (errno is > Bpf.RetData) throw RuntimeError.Plain($"seccomp: errnoRet {errno} is out of range");
        if (name == "SCMP_ACT_NOTIFY") throw RuntimeError.Plain("seccomp: SCMP_ACT_NOTIFY is not supported (no seccomp agent)");
        if (!Actions.TryGetValue(name, out var ret)) throw RuntimeError.Plain($"seccomp: unknown action \"{name}\"");
        return ret is Bpf.RetErrno or Bpf.RetTrace ? ret | (errno ?? EPERM) : ret;
    }

    /// <summary>linux.seccomp.flags this compiler passes on to seccomp(2).</summary>
    internal static readonly Dictionary<string, uint> FlagNames = new()
    {
        ["SECCOMP_FILTER_FLAG_TSYNC"] = Bpf.FilterFlagTsync,
        ["SECCOMP_FILTER_FLAG_LOG"] = Bpf.FilterFlagLog,
        ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"] = Bpf.FilterFlagSpecAllow,
    };

    /// <summary>The seccomp(2) flags of linux.seccomp.flags.</summary>
    public static uint Flags(IEnumerable<string>? flags)
    {
        uint result = 0;
        foreach (var f in flags ?? [])
            result |= FlagNames.TryGetValue(f, out var flag) ? flag : throw RuntimeError.Plain($"seccomp: unsupported flag \"{f}\"");
        return result;
    }

    enum Op { Ne, Lt, Le, Eq, Ge, Gt, MaskedEq }

    static readonly Dictionary<string, Op> Operators = new()
    {
        ["SCMP_CMP_NE"] = Op.Ne, ["SCMP_CMP_LT"] = Op.Lt, ["SCMP_CMP_LE"] = Op.Le, ["SCMP_CMP_EQ"] = Op.Eq,
        ["SCMP_CMP_GE"] = Op.Ge, ["SCMP_CMP_GT"] = Op.Gt, ["SCMP_CMP_MASKED_EQ"] = Op.MaskedEq,
    };

    /// <summary>The argument comparisons (SCMP_CMP_*) this compiler handles.</summary>
    internal static IEnumerable<string> OperatorNames => Operators.Keys;

    /// <summary>The one architecture whose system calls the program checks against the profile; calls
    /// through any other (i386 int 0x80, x32) fail with ENOSYS.</summary>
    internal const string Architecture = "SCMP_ARCH_X86_64";

    readonly record struct Condition(uint Index, Op Op, ulong Value, ulong ValueTwo);

    sealed class CallRules
    {
        public readonly List<(Condition[] All, uint Action)> Conditional = [];
        public uint? Unconditional;
    }

    /// <summary>Checks a linux.seccomp without compiling it (throws the one-line error).</summary>
    public static void Validate(LinuxSeccomp s) => Compile(s);

    public static BpfInstruction[] Compile(LinuxSeccomp s)
    {
        if (!string.IsNullOrEmpty(s.ListenerPath)) throw RuntimeError.Plain("seccomp: listenerPath is not supported (no seccomp agent)");
        foreach (var arch in s.Architectures ?? [])
            if (!arch.StartsWith("SCMP_ARCH_", StringComparison.Ordinal)) throw RuntimeError.Plain($"seccomp: unknown architecture \"{arch}\"");
        Flags(s.Flags);
        uint deflt = Action(s.DefaultAction, s.DefaultErrnoRet);

        var calls = new CallRules?[SyscallTable.MaxNumber + 1];
        int highestNamed = -1;
        foreach (var rule in s.Syscalls ?? [])
        {
            uint action = Action(rule.Action, rule.ErrnoRet);
            var alternatives = Alternatives(rule.Args);
            foreach (var name in rule.Names)
            {
                int nr = SyscallTable.Number(name);
                if (nr < 0) continue;                        // not an x86_64 call: ignored, as libseccomp/runc do
                highestNamed = Math.Max(highestNamed, nr);
                if (action == deflt) continue;               // changes nothing (runc drops these too)
                var c = calls[nr] ??= new CallRules();
                if (alternatives is null) c.Unconditional ??= action;
                else foreach (var all in alternatives) c.Conditional.Add((all, action));
            }
        }
        // Calls newer than the profile fail with ENOSYS (the C library then falls back), unless everything is allowed anyway.
        uint beyond = highestNamed >= 0 && (deflt & Bpf.RetActionFull) is not (Bpf.RetAllow or Bpf.RetLog) ? Bpf.RetErrno | ENOSYS : deflt;
        uint foreign = Bpf.RetErrno | ENOSYS;

        var e = new Emitter();
        // 1. Every verdict once, at the end of the program.
        var returns = new Dictionary<uint, int>();
        int Ret(uint action) => returns.TryGetValue(action, out var l) ? l : returns[action] = e.Ret(action);
        foreach (var action in new[] { deflt, beyond, foreign }) Ret(action);
        foreach (var c in calls)
            if (c is not null)
            {
                if (c.Unconditional is { } u) Ret(u);
                foreach (var (_, a) in c.Conditional) Ret(a);
            }

        // 2. The argument checks of calls that have them.
        var ranges = new List<(uint Low, int Label)>();
        void Add(uint low, int label)
        {
            if (ranges.Count > 0 && ranges[^1].Label == label) return;
            ranges.Add((low, label));
        }
        for (int nr = 0; nr <= SyscallTable.MaxNumber; nr++)
        {
            uint fallback = nr > highestNamed ? beyond : deflt;
            var c = calls[nr];
            if (c is null) { Add((uint)nr, Ret(fallback)); continue; }
            int next = Ret(c.Unconditional ?? fallback);
            for (int i = c.Conditional.Count - 1; i >= 0; i--)
                next = AllOf(e, c.Conditional[i].All, Ret(c.Conditional[i].Action), next);
            Add((uint)nr, next);
        }
        Add((uint)SyscallTable.MaxNumber + 1, Ret(beyond));

        // 3. Binary search over the ranges, then the architecture and x32 checks in front.
        int tree = Search(e, ranges, 0, ranges.Count - 1);
        e.Jump(Bpf.JgeK, Bpf.X32SyscallBit, Ret(foreign), tree);
        int loadNr = e.Load(Bpf.OffsetNr);
        e.Jump(Bpf.JeqK, Bpf.AuditArchX86_64, loadNr, Ret(foreign));
        e.Load(Bpf.OffsetArch);
        var program = e.Program();
        if (program.Length > Bpf.MaxInstructions)
            throw RuntimeError.Plain($"seccomp: the profile compiles to {program.Length} instructions, more than the kernel's {Bpf.MaxInstructions}");
        return program;
    }

    /// <summary>null for a rule without conditions; otherwise the alternatives, each a set of ANDed comparisons.</summary>
    static List<Condition[]>? Alternatives(List<LinuxSeccompArg>? args)
    {
        if (args is null || args.Count == 0) return null;
        var conditions = args.Select(a =>
        {
            if (a.Index > 5) throw RuntimeError.Plain($"seccomp: argument index {a.Index} is out of range (0-5)");
            if (!Operators.TryGetValue(a.Op, out var op)) throw RuntimeError.Plain($"seccomp: unknown comparison \"{a.Op}\"");
            return new Condition(a.Index, op, a.Value, a.ValueTwo);
        }).ToArray();
        bool repeated = conditions.GroupBy(c => c.Index).Any(g => g.Count() > 1);
        return repeated ? [.. conditions.Select(c => new[] { c })] : [conditions];
    }

    static int Search(Emitter e, List<(uint Low, int Label)> ranges, int lo, int hi)
    {
        if (lo == hi) return ranges[lo].Label;
        int mid = (lo + hi + 1) / 2;
        int right = Search(e, ranges, mid, hi);
        int left = Search(e, ranges, lo, mid - 1);
        return e.Jump(Bpf.JgeK, ranges[mid].Low, right, left);
    }

    static int AllOf(Emitter e, Condition[] all, int match, int noMatch)
    {
        int label = match;
        for (int i = all.Length - 1; i >= 0; i--) label = Compare(e, all[i], label, noMatch);
        return label;
    }

    /// <summary>A 64-bit comparison from two 32-bit halves (BPF loads 32 bits at a time).</summary>
    static int Compare(Emitter e, Condition c, int match, int noMatch)
    {
        uint hi = (uint)(c.Value >> 32), lo = (uint)c.Value;
        uint loadHi = Bpf.OffsetArgHigh(c.Index), loadLo = Bpf.OffsetArgLow(c.Index);
        int low, check;
        switch (c.Op)
        {
            case Op.Eq:
                low = e.Jump(Bpf.JeqK, lo, match, noMatch); low = e.Load(loadLo);
                e.Jump(Bpf.JeqK, hi, low, noMatch); return e.Load(loadHi);
            case Op.Ne:
                low = e.Jump(Bpf.JeqK, lo, noMatch, match); low = e.Load(loadLo);
                e.Jump(Bpf.JeqK, hi, low, match); return e.Load(loadHi);
            case Op.Gt or Op.Ge:
                e.Jump(c.Op == Op.Gt ? Bpf.JgtK : Bpf.JgeK, lo, match, noMatch); low = e.Load(loadLo);
                check = e.Jump(Bpf.JeqK, hi, low, noMatch);
                e.Jump(Bpf.JgtK, hi, match, check); return e.Load(loadHi);
            case Op.Lt or Op.Le:
                e.Jump(c.Op == Op.Lt ? Bpf.JgeK : Bpf.JgtK, lo, noMatch, match); low = e.Load(loadLo);
                check = e.Jump(Bpf.JeqK, hi, low, match);
                e.Jump(Bpf.JgtK, hi, noMatch, check); return e.Load(loadHi);
            default: // masked: (arg & Value) == ValueTwo
                uint hi2 = (uint)(c.ValueTwo >> 32), lo2 = (uint)c.ValueTwo;
                e.Jump(Bpf.JeqK, lo2, match, noMatch); e.And(lo); low = e.Load(loadLo);
                if (hi == 0 && hi2 == 0) return low;     // the high half always matches
                e.Jump(Bpf.JeqK, hi2, low, noMatch); e.And(hi); return e.Load(loadHi);
        }
    }

    /// <summary>
    /// Emits the program backwards, so every jump target already exists: a label is an instruction's
    /// index from the end, and a jump from label p to label t skips p - t - 1 instructions. A
    /// conditional jump farther than 255 goes through a <c>ja</c> placed right after it.
    /// </summary>
    sealed class Emitter
    {
        readonly List<BpfInstruction> _reversed = [];

        int Emit(BpfInstruction i)
        {
            _reversed.Add(i);
            return _reversed.Count - 1;
        }

        public int Ret(uint k) => Emit(new(Bpf.RetK, 0, 0, k));
        public int Load(uint offset) => Emit(new(Bpf.LdAbsW, 0, 0, offset));
        public int And(uint k) => Emit(new(Bpf.AndK, 0, 0, k));

        int Far(int target) => Emit(new(Bpf.Ja, 0, 0, (uint)(_reversed.Count - target - 1)));

        public int Jump(ushort code, uint k, int jt, int jf)
        {
            while (true)
            {
                bool farT = _reversed.Count - jt - 1 > 255, farF = _reversed.Count - jf - 1 > 255;
                if (!farT && !farF) break;
                if (farT && jt == jf) jt = jf = Far(jt);
                else if (farT) jt = Far(jt);
                else jf = Far(jf);
            }
            int p = _reversed.Count;
            return Emit(new(code, (byte)(p - jt - 1), (byte)(p - jf - 1), k));
        }

        public BpfInstruction[] Program()
        {
            var program = _reversed.ToArray();
            Array.Reverse(program);
            return program;
        }
    }
}
