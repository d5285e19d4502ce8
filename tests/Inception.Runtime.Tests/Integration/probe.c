// A static test helper run inside containers: attempts one kernel operation and prints
// "<op>: ok" or "<op>: <strerror(errno)>" (exit 0 / 1). Built by the tests with gcc -static.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int done(const char *op, long r) {
    if (r < 0) { printf("%s: %s\n", op, strerror(errno)); return 1; }
    printf("%s: ok\n", op);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: probe OP [ARGS]\n"); return 2; }
    const char *op = argv[1];
    if (!strcmp(op, "keyctl")) return done(op, syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0));
    if (!strcmp(op, "unshare-user")) return done(op, unshare(CLONE_NEWUSER));
    if (!strcmp(op, "unshare-mount")) return done(op, unshare(CLONE_NEWNS));
    if (!strcmp(op, "mount")) return done(op, mount("none", argc > 2 ? argv[2] : "/mnt", "tmpfs", 0, NULL));
    if (!strcmp(op, "clone3")) return done(op, syscall(SYS_clone3, NULL, 0));
    if (!strcmp(op, "personality")) return done(op, personality(ADDR_NO_RANDOMIZE));
    if (!strcmp(op, "vsock")) return done(op, socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    if (!strcmp(op, "inet")) return done(op, socket(AF_INET, SOCK_STREAM, 0));
    if (!strcmp(op, "mkdir") && argc > 2) return done(op, mkdir(argv[2], 0755));
    if (!strcmp(op, "ptrace") && argc > 2) return done(op, ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0));
    if (!strcmp(op, "mknod") && argc > 4) return done(op, mknod(argv[2], S_IFBLK | 0600, makedev(atoi(argv[3]), atoi(argv[4]))));
    if (!strcmp(op, "write") && argc > 2) {
        int fd = open(argv[2], O_WRONLY);
        if (fd < 0) return done(op, -1);
        return done(op, write(fd, argc > 3 ? argv[3] : "1", strlen(argc > 3 ? argv[3] : "1")));
    }
    if (!strcmp(op, "read") && argc > 2) {
        char buf[16];
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) return done(op, -1);
        return done(op, read(fd, buf, sizeof buf) > 0 ? 0 : -1);
    }
    if (!strcmp(op, "euid")) { printf("euid=%d\n", (int)geteuid()); return 0; }
    fprintf(stderr, "probe: unknown op %s\n", op);
    return 2;
}
