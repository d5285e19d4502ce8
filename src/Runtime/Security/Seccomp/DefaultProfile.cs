using Inception.Runtime.Oci;

namespace Inception.Runtime.Security.Seccomp;

/// <summary>
/// docker's default seccomp profile (moby profiles/seccomp/default.json), the rules that concern
/// x86_64: an allowlist answered by EPERM otherwise; socket without AF_VSOCK; personality only with
/// the five harmless personas; clone without namespace flags and clone3 answered by ENOSYS (so the C
/// library falls back to clone) unless the container has CAP_SYS_ADMIN; and the calls each extra
/// capability unlocks (CAP_SYS_ADMIN: mount, unshare, setns, …; CAP_SYS_PTRACE: kcmp, pidfd_getfd, …).
/// Built in code, so a run pays for no JSON parsing.
/// </summary>
public static class DefaultProfile
{
    const string Allowed =
        "accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 " +
        "clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range " +
        "connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 " +
        "epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 " +
        "fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr " +
        "flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex " +
        "futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid " +
        "getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid " +
        "getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area " +
        "gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel " +
        "ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit " +
        "io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset " +
        "landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek " +
        "lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 " +
        "mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend " +
        "mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at " +
        "nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc " +
        "pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 " +
        "pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg " +
        "recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq " +
        "rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait " +
        "rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max " +
        "sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity " +
        "sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop " +
        "semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid " +
        "setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid " +
        "setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid " +
        "setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall " +
        "socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill " +
        "time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 " +
        "timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 " +
        "ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid " +
        "write writev";

    /// <summary>CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may use none of them without CAP_SYS_ADMIN.</summary>
    public const ulong CloneNamespaceFlags = 0x7E020000;
    public const ulong AfVsock = 40;

    public static SeccompProfile Create() => new()
    {
        DefaultAction = "SCMP_ACT_ERRNO",
        DefaultErrnoRet = 1,
        ArchMap = [new ArchMapEntry { Architecture = "SCMP_ARCH_X86_64", SubArchitectures = ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] }],
        Syscalls =
        [
            Allow(Allowed),
            Allow("process_vm_readv process_vm_writev ptrace", includes: new() { MinKernel = "4.8" }),
            Allow("socket", args: [Arg(0, AfVsock, "SCMP_CMP_NE")]),
            Allow("personality", args: [Arg(0, 0x0, "SCMP_CMP_EQ")]),
            Allow("personality", args: [Arg(0, 0x0008, "SCMP_CMP_EQ")]),
            Allow("personality", args: [Arg(0, 0x20000, "SCMP_CMP_EQ")]),
            Allow("personality", args: [Arg(0, 0x20008, "SCMP_CMP_EQ")]),
            Allow("personality", args: [Arg(0, 0xffffffff, "SCMP_CMP_EQ")]),
            Allow("arch_prctl", includes: new() { Arches = ["amd64", "x32"] }),
            Allow("modify_ldt", includes: new() { Arches = ["amd64", "x32", "x86"] }),
            Allow("open_by_handle_at", Caps("CAP_DAC_READ_SEARCH")),
            Allow("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount " +
                  "open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare",
                  Caps("CAP_SYS_ADMIN")),
            Allow("clone", args: [Arg(0, CloneNamespaceFlags, "SCMP_CMP_MASKED_EQ")],
                  excludes: new() { Caps = ["CAP_SYS_ADMIN"], Arches = ["s390", "s390x"] }),
            new ProfileSyscall { Names = ["clone3"], Action = "SCMP_ACT_ERRNO", ErrnoRet = SeccompCompiler.ENOSYS, Excludes = new() { Caps = ["CAP_SYS_ADMIN"] } },
            Allow("reboot", Caps("CAP_SYS_BOOT")),
            Allow("chroot", Caps("CAP_SYS_CHROOT")),
            Allow("delete_module init_module finit_module", Caps("CAP_SYS_MODULE")),
            Allow("acct", Caps("CAP_SYS_PACCT")),
            Allow("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", Caps("CAP_SYS_PTRACE")),
            Allow("iopl ioperm", Caps("CAP_SYS_RAWIO")),
            Allow("settimeofday stime clock_settime clock_settime64", Caps("CAP_SYS_TIME")),
            Allow("vhangup", Caps("CAP_SYS_TTY_CONFIG")),
            Allow("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", Caps("CAP_SYS_NICE")),
            Allow("syslog", Caps("CAP_SYSLOG")),
            Allow("bpf", Caps("CAP_BPF")),
            Allow("perf_event_open", Caps("CAP_PERFMON")),
        ],
    };

    static ProfileFilter Caps(string cap) => new() { Caps = [cap] };

    static LinuxSeccompArg Arg(uint index, ulong value, string op) => new() { Index = index, Value = value, Op = op };

    static ProfileSyscall Allow(string names, ProfileFilter? includes = null, ProfileFilter? excludes = null, List<LinuxSeccompArg>? args = null) =>
        new() { Names = [.. names.Split(' ')], Action = "SCMP_ACT_ALLOW", Includes = includes, Excludes = excludes, Args = args };
}
