#!/bin/bash
# Runs inside the cgroup-v2 test VM, in the host's root (read-only 9p under a tmpfs overlay): runs the
# already built test assembly with the filter tests/vm/run.sh chose and reports the counts on the console
# as "INCRUN-VM-RESULT passed failed skipped", then powers the VM off.
set -u
. "$incrun_share/run.env"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
finish() { sync; echo "INCRUN-VM-RESULT $1 $2 $3"; echo b > /proc/sysrq-trigger; sleep 5; }
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /dev/pts && mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && ln -sf pts/ptmx /dev/ptmx
# Modules the kernel asks for (veth, bridge, nf_tables, loop, ...) come from the shared module tree.
printf '#!/bin/sh\nexec /bin/busybox modprobe "$@"\n' > /sbin/incrun-vm-modprobe && chmod +x /sbin/incrun-vm-modprobe
echo /sbin/incrun-vm-modprobe > /proc/sys/kernel/modprobe
busybox modprobe -a overlay veth bridge loop tun virtio_blk 2>/dev/null
ip link set lo up 2>/dev/null || busybox ip link set lo up
hostname incrun-vm
echo "vm: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB, cgroup: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "vm: up after $(cut -d' ' -f1 /proc/uptime) s"
cd "$REPO" || finish 0 1 0
# incrun starts many times per test: run it from memory, not through 9p.
install -D -m 0755 "$BIN" /usr/local/lib/incrun-vm/incrun && BIN=/usr/local/lib/incrun-vm/incrun
rm -rf "$SHARE/results"
# Every 2 minutes: what runs, for a hung test (the console is all the host sees).
( while sleep 120; do
    echo "vm: --- $(cut -d' ' -f1 /proc/uptime) s: processes of the tests ---"
    ps -eo pid,ppid,stat,etime,wchan:24,args --sort=start_time | grep -v -E ' \[.*\]$' | tail -n 15 | cut -c1-200 | sed 's/^/vm:   /'
    for f in /sys/fs/cgroup/incrun-it-*/*/memory.events; do [ -f "$f" ] && echo "vm:   $f: $(tr '\n' ' ' < "$f")"; done
  done ) &
INCRUN_BIN="$BIN" dotnet test "$TESTDLL" --filter "$FILTER" --logger "trx;LogFileName=vm.trx" \
  --logger "console;verbosity=normal" --results-directory "$SHARE/results"
trx=$SHARE/results/vm.trx
if [ ! -f "$trx" ]; then finish 0 1 0; fi
counters=$(grep -o '<Counters [^>]*>' "$trx")
get() { sed -E "s/.* $1=\"([0-9]+)\".*/\\1/" <<<"$counters"; }
total=$(get total); passed=$(get passed); failed=$(( $(get failed) + $(get error) ))
echo "vm: tests done after $(cut -d' ' -f1 /proc/uptime) s"
finish "$passed" "$failed" "$((total - passed - failed))"
