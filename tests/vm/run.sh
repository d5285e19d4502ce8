#!/usr/bin/env bash
# Host side of `./build.sh test-vm`: runs the tests that need cgroups (the Root integration tests) in a
# qemu VM with a pure cgroup v2 hierarchy. The VM boots a stock Debian kernel (apt-get download, never
# installed here) through its PVH entry point, sees this machine's root read-only over 9p under a tmpfs
# overlay, and runs the already built test assembly with this machine's dotnet and artifacts/bin/incrun.
# Prints "VM (cgroup v2): N passed, N failed, N skipped"; exits non-zero on failures.
#   usage: tests/vm/run.sh TEST_DLL [FILTER]
# FILTER (or INCRUN_VM_FILTER) is a `dotnet test --filter`; by default every Root integration test with
# KVM, and under software emulation (several times slower) the tests that need cgroups: the limits,
# OOM, stats and the device rules.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TESTDLL=$(realpath "$1")
FILTER=${2:-${INCRUN_VM_FILTER:-}}
VM=$ROOT/artifacts/vm
MEM=${INCRUN_VM_MEM:-4096} CPUS=${INCRUN_VM_CPUS:-2} TIMEOUT=${INCRUN_VM_TIMEOUT:-900}
say() { printf '==> %s\n' "$*" >&2; }
mkdir -p "$VM"

# The kernel: the version linux-image-amd64 points to, cached under artifacts/vm/<version>.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
kdir=$(ls -d "$VM"/kernel-* 2>/dev/null | tail -n 1 || true)
if [ -n "$pkg" ] && [ "$kdir" != "$VM/kernel-${pkg#linux-image-}" ]; then
  kdir=$VM/kernel-${pkg#linux-image-}
  say "fetching $pkg (apt-get download; not installed)"
  rm -rf "$VM"/kernel-* "$VM"/*.deb
  (cd "$VM" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
  deb=$(ls "$VM"/"$pkg"_*.deb)
  mkdir -p "$kdir.tmp" && dpkg-deb -x "$deb" "$kdir.tmp/root"
  kver=$(ls "$kdir.tmp/root/lib/modules")
  # PVH boots the uncompressed ELF kernel straight away; it sits xz-compressed inside the bzImage.
  vmlinuz=$(ls "$kdir.tmp/root/boot"/vmlinuz-*)
  off=$(LC_ALL=C grep -aboP '\xFD7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
  tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream > "$kdir.tmp/vmlinux" 2>/dev/null || true
  [ -s "$kdir.tmp/vmlinux" ] || { echo "test-vm: no xz kernel image inside $vmlinuz" >&2; exit 1; }
  busybox depmod -b "$kdir.tmp/root" "$kver"
  echo "$kver" > "$kdir.tmp/version"
  mv "$kdir.tmp/root/lib/modules/$kver" "$kdir.tmp/modules"
  rm -rf "$kdir.tmp/root" "$deb"
  mv "$kdir.tmp" "$kdir"
fi
[ -n "$kdir" ] && [ -s "$kdir/vmlinux" ] || { echo "test-vm: no kernel (apt-get download linux-image-amd64 failed)" >&2; exit 1; }

# The initramfs: static busybox, tests/vm/init and the modules needed to reach the 9p root.
initrd=$kdir/initrd.cpio
if [ ! -s "$initrd" ] || [ "$ROOT/tests/vm/init" -nt "$initrd" ]; then
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,proc,sys,dev,lib/modules/x}
  cp /bin/busybox "$stage/bin/busybox"
  cp "$ROOT/tests/vm/init" "$stage/init"
  m=$stage/lib/modules/x
  cp "$kdir/modules/modules.dep" "$m/"
  need=(kernel/drivers/virtio/virtio_pci.ko kernel/net/9p/9pnet_virtio.ko kernel/fs/9p/9p.ko kernel/fs/overlayfs/overlay.ko)
  for k in "${need[@]}"; do
    for f in $(awk -v k="$k:" '$1 == k { $1 = k; print }' "$kdir/modules/modules.dep" | tr -d ':'); do
      mkdir -p "$m/$(dirname "$f")" && cp "$kdir/modules/$f" "$m/$f"
    done
  done
  mv "$m" "$stage/lib/modules/$(cat "$kdir/version")"
  (cd "$stage" && find . | busybox cpio -o -H newc 2>/dev/null) > "$initrd.tmp" && mv "$initrd.tmp" "$initrd"
  rm -rf "$stage"
fi

# What the VM runs is a snapshot (the test assembly's folder and the incrun binary), so rebuilding while
# it runs changes nothing; the share is mounted at the same path inside, so every path stays valid.
share=$VM/share
rm -rf "$share" && mkdir -p "$share/tests" "$share/bin"
cp -a "$(dirname "$TESTDLL")/." "$share/tests/"
cp "$ROOT/artifacts/bin/incrun" "$share/bin/incrun"
cat > "$share/run.env" <<ENV
REPO='$ROOT'
SHARE='$share'
BIN='$share/bin/incrun'
TESTDLL='$share/tests/$(basename "$TESTDLL")'
ENV

# KVM when it works: a nested /dev/kvm can exist and still hang the guest, so a kernel without a root
# (it panics at once, and -no-reboot ends qemu) must print its banner within a few seconds.
accel=(-machine q35,accel=tcg -cpu max)
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ "${INCRUN_VM_KVM:-1}" = 1 ]; then
  kvm=(-machine q35,accel=kvm -cpu host,-arch-capabilities)
  rm -f "$VM/kvm-probe.log"
  timeout -k 2 "${INCRUN_VM_KVM_PROBE:-15}" qemu-system-x86_64 "${kvm[@]}" -m 256 -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$VM/kvm-probe.log" -kernel "$kdir/vmlinux" -append "console=ttyS0 panic=-1" >/dev/null 2>&1 || true
  if grep -q 'Linux version' "$VM/kvm-probe.log" 2>/dev/null; then accel=("${kvm[@]}"); else say "/dev/kvm does not run a guest here: software emulation (TCG)"; fi
fi
if [ -z "$FILTER" ]; then
  if [ "${accel[1]}" = "q35,accel=kvm" ]; then FILTER='TestCategory=Root'
  else FILTER='TestCategory=Root&(FullyQualifiedName~CgroupTests|FullyQualifiedName~Device)'; fi
fi
echo "FILTER='$FILTER'" >> "$share/run.env"
# A small disk, so the block I/O limits (io.max) have a device to name.
disk=$VM/disk.raw
[ -f "$disk" ] || truncate -s 64M "$disk"
log=$VM/console.log
say "booting $(basename "$kdir") (cgroup v2 only, ${accel[1]#*accel=}, ${MEM} MiB, $CPUS CPUs); console in $log"
rm -f "$log"
start=$EPOCHREALTIME
status=0
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 "${accel[@]}" -m "$MEM" -smp "$CPUS" \
  -nodefaults -no-user-config -display none -no-reboot -serial "file:$log" \
  -kernel "$kdir/vmlinux" -initrd "$initrd" -drive "file=$disk,if=virtio,format=raw,cache=unsafe" \
  -append "incrun_share=$share console=ttyS0 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 panic=-1 ${INCRUN_VM_KERNEL_ARGS:-quiet loglevel=4}" \
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev local,id=modules,path="$kdir/modules",security_model=none,readonly=on \
  -device virtio-9p-pci,fsdev=modules,mount_tag=modules \
  -fsdev local,id=vmshare,path="$share",security_model=none \
  -device virtio-9p-pci,fsdev=vmshare,mount_tag=vmshare || status=$?
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
[ "$status" = 124 ] && echo "test-vm: the VM did not finish in ${TIMEOUT}s" >&2
grep -E '^vm: |^  Failed |^[[:space:]]+(Failed|Error Message)' "$log" >&2 || true
result=$(grep -a 'INCRUN-VM-RESULT' "$log" | grep -v echo | tail -n 1 || true)
read -r _ passed failed skipped <<<"${result:-x 0 1 0}"
say "VM run took ${elapsed}s"
echo "VM (cgroup v2): $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ -n "$result" ]
