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
#include <sys/mount.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <stdio.h>
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
    const int *ns_fds;       // existing namespaces to join (OCI linux.namespaces[].path, --network container:NAME)
    int nns;
    int exec_fd;             // >= 0: execveat(exec_fd, "", AT_EMPTY_PATH) instead of execve(path)
    int userns_go;           // >= 0: a new user namespace; read one byte here once the runtime wrote its id maps
    const char *time_offsets; // non-NULL: a new time namespace with these /proc/PID/timens_offsets lines
};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif

// A new time namespace for the child itself: unshare gives only its future children one, with offsets
// that can be written until a process enters it; setns then moves this (single-threaded) process in.
// Writes text to a /proc file in one write(2), as those files want; returns 0 or the errno.
static int write_proc(const char *path, const char *text) {
    int fd, err = 0;
    size_t len = strlen(text);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    if (len && write(fd, text, len) != (ssize_t)len) err = errno ? errno : EIO;
    close(fd);
    return err;
}

static int enter_new_timens(const char *offsets) {
    int fd, err;
    if (unshare(CLONE_NEWTIME) < 0) return errno;
    if ((err = write_proc("/proc/self/timens_offsets", offsets)) != 0) return err;
    fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    if (setns(fd, CLONE_NEWTIME) < 0) err = errno;
    close(fd);
    return err;
}

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
    if (c->userns_go >= 0) {
        // The child is in its new user namespace with no ids mapped yet: wait for the runtime's maps.
        char b;
        ssize_t n;
        do { n = read(c->userns_go, &b, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(127);          // the runtime failed to map the ids and reported it itself
        close(c->userns_go);
    }

    // Join the container's v1 cgroups: "0" in "tasks" moves this (single) thread, which the kernel
    // does without the global rwsem that a write of a pid to cgroup.procs takes (an RCU grace period:
    // 10-20 ms). The child is single-threaded, so this moves the whole process, before it execs.
    for (i = 0; i < c->ncgroup; i++) {
        ssize_t w;
        do { w = write(c->cgroup_tasks[i], "0", 1); } while (w < 0 && errno == EINTR);
        if (w < 0) { report(c->errpipe, errno); _exit(127); }
    }
    // Existing namespaces named by the spec (network — also docker's --network container:NAME —, ipc,
    // uts, cgroup): the child is single-threaded.
    for (i = 0; i < c->nns; i++)
        if (setns(c->ns_fds[i], 0) < 0) { report(c->errpipe, errno); _exit(127); }
    // The cgroup namespace is rooted where the process is when it is made: so only now, inside.
    if (c->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) { report(c->errpipe, errno); _exit(127); }
    if (c->time_offsets) {
        int e = enter_new_timens(c->time_offsets);
        if (e) { report(c->errpipe, e); _exit(127); }
    }
    if (c->userns_go >= 0) {
        // Become the namespace's root (a host uid of the map's range): execve then keeps the full set
        // of capabilities inside the namespace, none outside it. The credentials change cleared the
        // parent-death signal: set it again.
        if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) { report(c->errpipe, errno); _exit(127); }
        if (c->pdeathsig && prctl(PR_SET_PDEATHSIG, c->pdeathsig) < 0) { report(c->errpipe, errno); _exit(127); }
    }

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

    if (c->exec_fd >= 0) syscall(SYS_execveat, c->exec_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
    else execve(c->path, c->argv, c->envp);
    report(c->errpipe, errno);
    _exit(127);
}

// Returns the child's pid, or -errno when clone or the child's execve failed.
// cgroup_tasks: v1 "tasks" fds the child joins; cgroup2_fd >= 0: a cgroup v2 directory the child is
// created in (clone3 CLONE_INTO_CGROUP, so it never runs outside it). exec_fd >= 0: the child execs
// that file (an fd of the binary on a read-only mount) rather than path.
// ns_fds: namespaces the child joins (setns) before it execs (OCI linux.namespaces[].path, and the
// network namespace of docker's --network container:NAME);
// pid_ns_fd >= 0: a PID namespace the child is created in (setns of this thread's pid_for_children
// around the clone).
// CLONE_NEWTIME: the child enters a new time namespace with time_offsets (lines of
// /proc/PID/timens_offsets: "monotonic SECS NANOSECS", "boottime SECS NANOSECS"; NULL or "" for none).
// uid_map/gid_map (with CLONE_NEWUSER): the lines written to the child's /proc/PID/uid_map and
// gid_map before it goes on (it then becomes the namespace's root and execs).
static int write_map(pid_t pid, const char *file, const char *map) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    return write_proc(path, map);
}

int incrun_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
                 int clone_flags, int pdeathsig, const int *cgroup_tasks, int ncgroup, int cgroup2_fd,
                 int exec_fd, const int *ns_fds, int nns, int pid_ns_fd, const char *uid_map, const char *gid_map,
                 const char *time_offsets) {
    struct incrun_child c;
    const size_t stack_size = 64 * 1024;
    int pipefd[2], gofd[2] = { -1, -1 }, err = 0, status, own_pidns = -1;
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
    c.exec_fd = exec_fd;
    c.userns_go = -1;
    c.time_offsets = (clone_flags & CLONE_NEWTIME) ? (time_offsets ? time_offsets : "") : NULL;
    clone_flags &= ~(CLONE_NEWCGROUP | CLONE_NEWTIME);   // 0x80 is in clone()'s exit-signal byte
    if (clone_flags & CLONE_NEWUSER) {
        if (uid_map == NULL || gid_map == NULL) { close(pipefd[0]); close(pipefd[1]); munmap(stack, stack_size); return -EINVAL; }
        if (pipe2(gofd, O_CLOEXEC) < 0) { err = errno; close(pipefd[0]); close(pipefd[1]); munmap(stack, stack_size); return -err; }
        c.userns_go = gofd[0];
    }
    if (pid_ns_fd >= 0) {
        own_pidns = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0 || setns(pid_ns_fd, CLONE_NEWPID) < 0) {
            err = errno;
            if (own_pidns >= 0) close(own_pidns);
            close(pipefd[0]); close(pipefd[1]); munmap(stack, stack_size);
            return -err;
        }
    }
    if (cgroup2_fd >= 0 || c.userns_go >= 0 || c.time_offsets) {
        // clone3 like fork (no shared memory: the child runs on a copy of this stack), straight into
        // the cgroup; also for a new user namespace, since this thread must write the child's id maps
        // while the child waits (a vfork child would keep it asleep), and for a new time namespace
        // (setns into one needs a process that shares its memory with no other: EUSERS otherwise).
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = (unsigned)clone_flags | (cgroup2_fd >= 0 ? CLONE_INTO_CGROUP : 0);
        args.exit_signal = SIGCHLD;
        args.cgroup = cgroup2_fd >= 0 ? (unsigned)cgroup2_fd : 0;
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
    if (c.userns_go >= 0) {
        close(gofd[0]);
        if (pid > 0) {
            // "deny" is not written to setgroups: the maps are written by a privileged process.
            int e = write_map(pid, "uid_map", uid_map);
            if (!e) e = write_map(pid, "gid_map", gid_map);
            if (!e && write(gofd[1], "1", 1) != 1) e = errno;
            if (e) {
                close(gofd[1]);
                kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
                close(pipefd[0]);
                munmap(stack, stack_size);
                return -e;
            }
        }
        close(gofd[1]);
    }
    if (pid > 0) {
        do { r = read(pipefd[0], &err, sizeof err); } while (r < 0 && errno == EINTR);
        if (r != (ssize_t)sizeof err) err = 0;   // EOF: execve succeeded
        else { while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {} }
    }
    close(pipefd[0]);
    munmap(stack, stack_size);
    return err ? -err : pid;
}

// ---- the root filesystem of a container with a user namespace --------------------------------------
//
// The image's layers are owned by host ids (root is 0). For a container whose root is an unprivileged
// host uid, each layer is seen through an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP with the
// container's user namespace: on-disk 0 reads as the range's first host uid, which the container sees
// as its 0). Making such a mount needs CAP_SYS_ADMIN in the host's user namespace, and the overlay on
// top must be mounted from there too (inside the container's namespace overlayfs could not read the
// trusted.overlay.* xattrs of opaque directories). So a short-lived child of the runtime does it in a
// private mount namespace of its own - nothing ever appears in the host's mount table - and hands back
// a detached copy of the overlay (open_tree OPEN_TREE_CLONE). init moves that into its own mount
// namespace (move_mount). The child shares this process's memory and fd table (vfork-style): it only
// makes system calls, and the fd it opens is ours when it exits.

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define INCRUN_OPEN_TREE_CLONE 1
#define INCRUN_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define INCRUN_MOUNT_ATTR_IDMAP 0x100000

struct incrun_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

struct idmapped_overlay {
    const char *const *lowers;
    int nlowers;
    const char *target;
    const char *data;
    int userns_fd;
    int result;   // the detached overlay's fd
    int step;     // what failed: 1 unshare, 2 private, 3 open_tree(layer), 4 mount_setattr, 5 move_mount, 6 mount overlay, 7 open_tree(overlay)
    int err;
    int failed_layer;
};

static int idmap_child(void *arg) {
    struct idmapped_overlay *o = arg;
    struct incrun_mount_attr attr;
    sigset_t all;
    int i, fd;

    // the runtime's signal handlers must never run on this borrowed memory
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
#define FAIL(s) do { o->step = (s); o->err = errno; _exit(1); } while (0)
    if (unshare(CLONE_NEWNS) < 0) FAIL(1);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) FAIL(2);
    memset(&attr, 0, sizeof attr);
    attr.attr_set = INCRUN_MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)o->userns_fd;
    for (i = 0; o->userns_fd >= 0 && i < o->nlowers; i++) {
        o->failed_layer = i;
        fd = (int)syscall(SYS_open_tree, AT_FDCWD, o->lowers[i], INCRUN_OPEN_TREE_CLONE | O_CLOEXEC);
        if (fd < 0) FAIL(3);
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) FAIL(4);
        // over the layer's own directory, in this private namespace: the overlay's lowerdir stays as it is
        if (syscall(SYS_move_mount, fd, "", AT_FDCWD, o->lowers[i], INCRUN_MOVE_MOUNT_F_EMPTY_PATH) < 0) FAIL(5);
        close(fd);
    }
    o->failed_layer = -1;
    if (mount("overlay", o->target, "overlay", 0, o->data) < 0) FAIL(6);
    fd = (int)syscall(SYS_open_tree, AT_FDCWD, o->target, INCRUN_OPEN_TREE_CLONE | O_CLOEXEC);
    if (fd < 0) FAIL(7);
    o->result = fd;
    _exit(0);
#undef FAIL
}

// userns_fd < 0: the layers are used as they are (copies with shifted owners, for kernels without
// idmapped mounts).
// Returns the fd of a detached overlay mount whose lower layers are idmapped through userns_fd, or
// -errno with *step (see struct idmapped_overlay) and *failed_layer (an index of lowers, or -1).
int incrun_idmapped_overlay(const char *const *lowers, int nlowers, const char *target, const char *data,
                            int userns_fd, int *step, int *failed_layer) {
    struct idmapped_overlay o;
    const size_t stack_size = 64 * 1024;
    char *stack;
    pid_t pid;
    int status;

    memset(&o, 0, sizeof o);
    o.lowers = lowers; o.nlowers = nlowers; o.target = target; o.data = data; o.userns_fd = userns_fd;
    o.result = -1; o.failed_layer = -1;
    stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) { *step = 0; return -errno; }
    pid = clone(idmap_child, stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &o);
    if (pid < 0) { int e = errno; munmap(stack, stack_size); *step = 0; return -e; }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    munmap(stack, stack_size);
    *step = o.step;
    *failed_layer = o.failed_layer;
    if (o.result >= 0) return o.result;
    return -(o.err ? o.err : EIO);
}

// ---- exec: joining a running container --------------------------------------------------------
//
// `incrun exec` spawns this binary (incrun_spawn, already placed in the container's cgroups) with
// _INCRUN_SETNS="<pidfd> <clone flags>". setns(CLONE_NEWNS) needs a single-threaded process and the
// .NET runtime has two threads by Main, so the namespaces are joined here, before the runtime starts.
// setns(CLONE_NEWPID) only applies to children: the process forks once more with CLONE_PARENT, so
// the process that continues into the runtime (exec-init, then the user's command) is a child of the
// `incrun exec` CLI and in the container's PID namespace. The intermediate reports that child's pid
// (as the host sees it) on the sync socket (fd 3) and exits. A failure goes back as the sync
// socket's error record (step, errno); the CLI names what it asked for.

#define INCRUN_SYNC_FD 3
enum { SYNC_ERROR = 3, SYNC_PID = 6 };   // Container/SyncChannel.cs SyncKind

static void sync_send(int kind, int err, int exit_code, const void *payload, size_t len) {
    char buf[12 + 64];
    ssize_t r;
    if (len > 64) len = 64;
    memcpy(buf, &kind, 4);
    memcpy(buf + 4, &err, 4);
    memcpy(buf + 8, &exit_code, 4);
    if (len) memcpy(buf + 12, payload, len);
    do { r = send(INCRUN_SYNC_FD, buf, 12 + len, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
}

static void join_fail(const char *step, int err) {
    sync_send(SYNC_ERROR, err, 125, step, strlen(step));
    _exit(125);
}

__attribute__((constructor)) static void incrun_join_container(void) {
    const char *spec = getenv("_INCRUN_SETNS");
    char *end;
    long pidfd, flags;
    pid_t pid;

    if (spec == NULL) return;
    pidfd = strtol(spec, &end, 10);
    flags = strtol(end, &end, 0);
    // The process runs the host's incrun binary inside the container: keep the container's processes
    // from opening /proc/<pid>/exe or ptrace-ing it (the runc CVE-2019-5736 class). execve of the
    // user's command makes it dumpable again.
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (setns((int)pidfd, (int)flags) < 0) join_fail("setns", errno);
    close((int)pidfd);
    // Like fork, but the child's parent is our parent (the CLI). Raw clone: the child returns here on
    // a copy of this stack and goes on into the runtime's start-up.
    pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), NULL, NULL, NULL, 0UL);
    if (pid < 0) join_fail("clone", errno);
    if (pid > 0) {
        int p = pid;
        sync_send(SYNC_PID, 0, 0, &p, sizeof p);
        _exit(0);
    }
    // The parent-death signal is not inherited: set it again (exec-init keeps it across its change of
    // credentials) so the command dies with a foreground `incrun exec`.
    if (end && *end) {
        long sig = strtol(end, NULL, 10);
        if (sig > 0) prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0);
    }
}
