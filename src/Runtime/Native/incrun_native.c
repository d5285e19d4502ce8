// The tiny C part of incrun: clone a child into new namespaces and execve it.
//
// Managed code must not run in a child between a raw clone() and execve(): the child's copy of the
// .NET runtime can wait forever for a GC that its (now absent) other threads were running. This
// function runs the child entirely in C, touches only async-signal-safe calls and execs at once.
// Everything else (mounts, pivot_root, users, ...) happens in C# in the re-executed binary.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

struct incrun_child {
    const char *path;
    char *const *argv;
    char *const *envp;
    const int *fds;   // fds[i] becomes fd i in the child
    int nfds;
    int errpipe;      // write end, O_CLOEXEC: closed by a successful execve
    int pdeathsig;
    const int *cgroup_tasks; // cgroup v1 "tasks" files, O_WRONLY
    int ncgroup;
    int new_cgroupns;        // unshare(CLONE_NEWCGROUP) once inside the container's cgroup
    const int *ns_fds;       // existing namespaces to join (OCI linux.namespaces[].path), setns'd in the child
    int nns;
};

static void report(int fd, int err) {
    ssize_t r;
    do { r = write(fd, &err, sizeof err); } while (r < 0 && errno == EINTR);
}

static int child_main(void *arg) {
    struct incrun_child *c = arg;
    sigset_t all;
    struct sigaction dfl;
    int i, moved[64];

    if (c->pdeathsig && prctl(PR_SET_PDEATHSIG, c->pdeathsig) < 0) { report(c->errpipe, errno); _exit(127); }

    // Join the container's v1 cgroups: "0" in "tasks" moves this (single) thread, which the kernel
    // does without the global rwsem that a write of a pid to cgroup.procs takes (an RCU grace period:
    // 10-20 ms). The child is single-threaded, so this moves the whole process, before it execs.
    for (i = 0; i < c->ncgroup; i++) {
        ssize_t w;
        do { w = write(c->cgroup_tasks[i], "0", 1); } while (w < 0 && errno == EINTR);
        if (w < 0) { report(c->errpipe, errno); _exit(127); }
    }
    // Existing namespaces named by the spec (network, ipc, uts, cgroup): the child is single-threaded.
    for (i = 0; i < c->nns; i++)
        if (setns(c->ns_fds[i], 0) < 0) { report(c->errpipe, errno); _exit(127); }
    // The cgroup namespace is rooted where the process is when it is made: so only now, inside.
    if (c->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) { report(c->errpipe, errno); _exit(127); }

    // .NET ignores SIGPIPE and installs handlers: give the child default dispositions and an empty mask.
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (i = 1; i < 65; i++) sigaction(i, &dfl, NULL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);

    // Move the requested fds above the target range first so no dup2 clobbers a source.
    for (i = 0; i < c->nfds; i++) {
        moved[i] = fcntl(c->fds[i], F_DUPFD_CLOEXEC, 64);
        if (moved[i] < 0) { report(c->errpipe, errno); _exit(127); }
    }
    for (i = 0; i < c->nfds; i++) {
        if (dup2(moved[i], i) < 0) { report(c->errpipe, errno); _exit(127); }
    }
    // Every other fd closes at exec (the runtime's own fds are already CLOEXEC; this makes sure).
    syscall(SYS_close_range, (unsigned)c->nfds, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);

    execve(c->path, c->argv, c->envp);
    report(c->errpipe, errno);
    _exit(127);
}

// Returns the child's pid, or -errno when clone or the child's execve failed.
// cgroup_tasks: v1 "tasks" fds the child joins; cgroup2_fd >= 0: a cgroup v2 directory the child is
// created in (clone3 CLONE_INTO_CGROUP, so it never runs outside it).
// ns_fds: namespaces the child joins (setns) before it execs; pid_ns_fd >= 0: a PID namespace the
// child is created in (setns of this thread's pid_for_children around the clone).
int incrun_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
                 int clone_flags, int pdeathsig, const int *cgroup_tasks, int ncgroup, int cgroup2_fd,
                 const int *ns_fds, int nns, int pid_ns_fd) {
    struct incrun_child c;
    const size_t stack_size = 64 * 1024;
    int pipefd[2], err = 0, status, own_pidns = -1;
    ssize_t r;
    pid_t pid;
    char *stack;

    if (nfds < 0 || nfds > 64) return -EINVAL;
    if (pipe2(pipefd, O_CLOEXEC) < 0) return -errno;
    stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) { err = errno; close(pipefd[0]); close(pipefd[1]); return -err; }

    c.path = path; c.argv = argv; c.envp = envp; c.fds = fds; c.nfds = nfds;
    c.errpipe = pipefd[1]; c.pdeathsig = pdeathsig; c.cgroup_tasks = cgroup_tasks; c.ncgroup = ncgroup;
    c.new_cgroupns = (clone_flags & CLONE_NEWCGROUP) != 0;
    c.ns_fds = ns_fds; c.nns = nns;
    clone_flags &= ~CLONE_NEWCGROUP;
    if (pid_ns_fd >= 0) {
        own_pidns = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0 || setns(pid_ns_fd, CLONE_NEWPID) < 0) {
            err = errno;
            if (own_pidns >= 0) close(own_pidns);
            close(pipefd[0]); close(pipefd[1]); munmap(stack, stack_size);
            return -err;
        }
    }
    if (cgroup2_fd >= 0) {
        // clone3 like fork (no shared memory: the child runs on a copy of this stack), straight into the cgroup.
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = (unsigned)clone_flags | CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (unsigned)cgroup2_fd;
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0) child_main(&c);  // does not return
    } else {
        // CLONE_VM|CLONE_VFORK, as posix_spawn does: no copy of the runtime's page tables and no
        // copy-on-write faults afterwards; this thread sleeps until the child has exec'd or exited.
        pid = clone(child_main, stack + stack_size, clone_flags | CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
    }
    if (pid < 0) err = errno;
    if (own_pidns >= 0) {
        // back to this process's own PID namespace for later children
        if (setns(own_pidns, CLONE_NEWPID) < 0 && !err) err = errno;
        close(own_pidns);
    }
    close(pipefd[1]);
    if (pid > 0) {
        do { r = read(pipefd[0], &err, sizeof err); } while (r < 0 && errno == EINTR);
        if (r != (ssize_t)sizeof err) err = 0;   // EOF: execve succeeded
        else { while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {} }
    }
    close(pipefd[0]);
    munmap(stack, stack_size);
    return err ? -err : pid;
}
