namespace Inception.Runtime.Security.Seccomp;

/// <summary>
/// x86_64 system call numbers (the kernel's arch/x86/entry/syscalls/syscall_64.tbl, 64-bit ABI, up to
/// Linux 6.17). Names of other architectures' calls (chown32, _llseek, …) are simply unknown here, as
/// libseccomp treats a name the native architecture lacks.
/// </summary>
public static class SyscallTable
{
    /// <summary>Numbers 0..335, in order.</summary>
    static readonly string[] Low =
    [
        "read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "mmap",                       // 0
        "mprotect", "munmap", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "pread64", "pwrite64", "readv", // 10
        "writev", "access", "pipe", "select", "sched_yield", "mremap", "msync", "mincore", "madvise", "shmget",    // 20
        "shmat", "shmctl", "dup", "dup2", "pause", "nanosleep", "getitimer", "alarm", "setitimer", "getpid",      // 30
        "sendfile", "socket", "connect", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown", "bind", // 40
        "listen", "getsockname", "getpeername", "socketpair", "setsockopt", "getsockopt", "clone", "fork", "vfork", "execve", // 50
        "exit", "wait4", "kill", "uname", "semget", "semop", "semctl", "shmdt", "msgget", "msgsnd",               // 60
        "msgrcv", "msgctl", "fcntl", "flock", "fsync", "fdatasync", "truncate", "ftruncate", "getdents", "getcwd", // 70
        "chdir", "fchdir", "rename", "mkdir", "rmdir", "creat", "link", "unlink", "symlink", "readlink",          // 80
        "chmod", "fchmod", "chown", "fchown", "lchown", "umask", "gettimeofday", "getrlimit", "getrusage", "sysinfo", // 90
        "times", "ptrace", "getuid", "syslog", "getgid", "setuid", "setgid", "geteuid", "getegid", "setpgid",     // 100
        "getppid", "getpgrp", "setsid", "setreuid", "setregid", "getgroups", "setgroups", "setresuid", "getresuid", "setresgid", // 110
        "getresgid", "getpgid", "setfsuid", "setfsgid", "getsid", "capget", "capset", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", // 120
        "rt_sigsuspend", "sigaltstack", "utime", "mknod", "uselib", "personality", "ustat", "statfs", "fstatfs", "sysfs", // 130
        "getpriority", "setpriority", "sched_setparam", "sched_getparam", "sched_setscheduler", "sched_getscheduler",
        "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "mlock",                     // 140
        "munlock", "mlockall", "munlockall", "vhangup", "modify_ldt", "pivot_root", "_sysctl", "prctl", "arch_prctl", "adjtimex", // 150
        "setrlimit", "chroot", "sync", "acct", "settimeofday", "mount", "umount2", "swapon", "swapoff", "reboot", // 160
        "sethostname", "setdomainname", "iopl", "ioperm", "create_module", "init_module", "delete_module", "get_kernel_syms",
        "query_module", "quotactl",                                                                               // 170
        "nfsservctl", "getpmsg", "putpmsg", "afs_syscall", "tuxcall", "security", "gettid", "readahead", "setxattr", "lsetxattr", // 180
        "fsetxattr", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
        "fremovexattr",                                                                                           // 190
        "tkill", "time", "futex", "sched_setaffinity", "sched_getaffinity", "set_thread_area", "io_setup", "io_destroy",
        "io_getevents", "io_submit",                                                                              // 200
        "io_cancel", "get_thread_area", "lookup_dcookie", "epoll_create", "epoll_ctl_old", "epoll_wait_old", "remap_file_pages",
        "getdents64", "set_tid_address", "restart_syscall",                                                       // 210
        "semtimedop", "fadvise64", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
        "clock_settime", "clock_gettime", "clock_getres",                                                         // 220
        "clock_nanosleep", "exit_group", "epoll_wait", "epoll_ctl", "tgkill", "utimes", "vserver", "mbind", "set_mempolicy",
        "get_mempolicy",                                                                                          // 230
        "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr", "kexec_load", "waitid",
        "add_key", "request_key",                                                                                 // 240
        "keyctl", "ioprio_set", "ioprio_get", "inotify_init", "inotify_add_watch", "inotify_rm_watch", "migrate_pages", "openat",
        "mkdirat", "mknodat",                                                                                     // 250
        "fchownat", "futimesat", "newfstatat", "unlinkat", "renameat", "linkat", "symlinkat", "readlinkat", "fchmodat", "faccessat", // 260
        "pselect6", "ppoll", "unshare", "set_robust_list", "get_robust_list", "splice", "tee", "sync_file_range", "vmsplice",
        "move_pages",                                                                                             // 270
        "utimensat", "epoll_pwait", "signalfd", "timerfd_create", "eventfd", "fallocate", "timerfd_settime", "timerfd_gettime",
        "accept4", "signalfd4",                                                                                   // 280
        "eventfd2", "epoll_create1", "dup3", "pipe2", "inotify_init1", "preadv", "pwritev", "rt_tgsigqueueinfo", "perf_event_open",
        "recvmmsg",                                                                                               // 290
        "fanotify_init", "fanotify_mark", "prlimit64", "name_to_handle_at", "open_by_handle_at", "clock_adjtime", "syncfs",
        "sendmmsg", "setns", "getcpu",                                                                            // 300
        "process_vm_readv", "process_vm_writev", "kcmp", "finit_module", "sched_setattr", "sched_getattr", "renameat2", "seccomp",
        "getrandom", "memfd_create",                                                                              // 310
        "kexec_file_load", "bpf", "execveat", "userfaultfd", "membarrier", "mlock2", "copy_file_range", "preadv2", "pwritev2",
        "pkey_mprotect",                                                                                          // 320
        "pkey_alloc", "pkey_free", "statx", "io_pgetevents", "rseq", "uretprobe",                                // 330..335
    ];

    const int HighBase = 424;

    /// <summary>Numbers 424.. (the numbers shared by every architecture since 5.1).</summary>
    static readonly string[] High =
    [
        "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree", "move_mount", // 424
        "fsopen", "fsconfig", "fsmount", "fspick", "pidfd_open", "clone3", "close_range", "openat2", "pidfd_getfd", "faccessat2", // 430
        "process_madvise", "epoll_pwait2", "mount_setattr", "quotactl_fd", "landlock_create_ruleset", "landlock_add_rule",
        "landlock_restrict_self", "memfd_secret", "process_mrelease", "futex_waitv",                             // 440
        "set_mempolicy_home_node", "cachestat", "fchmodat2", "map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue",
        "statmount", "listmount", "lsm_get_self_attr",                                                            // 450
        "lsm_set_self_attr", "lsm_list_modules", "mseal", "setxattrat", "getxattrat", "listxattrat", "removexattrat",
        "open_tree_attr", "file_getattr", "file_setattr",                                                          // 460..469
    ];

    static readonly Dictionary<string, int> ByName = Build();

    /// <summary>The highest number in the table.</summary>
    public static int MaxNumber => HighBase + High.Length - 1;

    static Dictionary<string, int> Build()
    {
        var d = new Dictionary<string, int>(Low.Length + High.Length, StringComparer.Ordinal);
        for (int i = 0; i < Low.Length; i++) d[Low[i]] = i;
        for (int i = 0; i < High.Length; i++) d[High[i]] = HighBase + i;
        return d;
    }

    /// <summary>The x86_64 number of a system call, or -1 if there is no such call on x86_64.</summary>
    public static int Number(string name) => ByName.TryGetValue(name, out var n) ? n : -1;

    /// <summary>The name of an x86_64 system call number, or null.</summary>
    public static string? Name(int number) =>
        number >= 0 && number < Low.Length ? Low[number]
        : number >= HighBase && number <= MaxNumber ? High[number - HighBase] : null;

    public static IEnumerable<(string Name, int Number)> All => ByName.Select(kv => (kv.Key, kv.Value));
}
