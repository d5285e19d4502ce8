#!/usr/bin/env bash
# Start latency and memory of `incrun run`, against the floor (unshare + chroot, no runtime at all)
# and runc on an equivalent bundle. Prints ratios; the targets are in README.md.
#   bench/startup.sh [INCRUN_BINARY]
set -euo pipefail
INCRUN=${1:-incrun}
RUNS=${RUNS:-100}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d /tmp/incrun-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The same busybox root filesystem for the floor and for runc.
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
mkdir -p "$work/bundle/rootfs/"{proc,dev,sys,etc,tmp}

cmds=(-n floor "unshare -pmuin --fork chroot $work/bundle/rootfs /bin/true"
      -n incrun "$INCRUN run --rm --network none busybox true"
      -n limits "$INCRUN run --rm --network none --memory 64m --pids-limit 50 busybox true"
      -n unconfined "$INCRUN run --rm --network none --security-opt seccomp=unconfined busybox true"
      -n memfd "env INCRUN_REEXEC=memfd $INCRUN run --rm --network none busybox true"
      -n envonly "env $INCRUN run --rm --network none busybox true"
      -n userns "$INCRUN run --rm --network none --userns=auto busybox true"
      -n bridge "$INCRUN run --rm busybox true")
if command -v runc >/dev/null; then
  (cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/' config.json)
  cmds+=(-n runc "runc --root $work/runc-state run -b $work/bundle incrun-bench")
fi

hyperfine -N --warmup 5 --runs "$RUNS" --export-csv "$work/startup.csv" "${cmds[@]}" >&2

# Bridge with the network already up (a resident container keeps incrun0 and the nft table): the
# per-container cost alone (veth, address, route, lease), as on a host that runs containers.
"$INCRUN" run --rm busybox sleep 600 >/dev/null 2>&1 &
resident=$!
sleep 1
hyperfine -N --warmup 5 --runs "$RUNS" --export-csv "$work/bridge-up.csv" -n bridge-up "$INCRUN run --rm busybox true" >&2
kill -9 "$resident"; wait "$resident" 2>/dev/null || true
"$INCRUN" network ls >/dev/null   # reaps the killed container's veth, lease and nft elements

mean() { awk -F, -v n="$1" '$1==n {printf "%.2f", $2*1000}' "$work/startup.csv"; }
floor=$(mean floor); inc=$(mean incrun); runc=$(mean runc)
echo
echo "start -> exit (mean of $RUNS, hyperfine -N)"
printf '  floor (unshare+chroot)  %6s ms\n' "$floor"
printf '  incrun run --rm         %6s ms   %.2fx the floor (target <= 3x)\n' "$inc" "$(awk -v a="$inc" -v b="$floor" 'BEGIN{print a/b}')"
limits=$(mean limits)
printf '  with --memory/--pids-limit %6s ms   %+.2f ms for the limits (target <= 2 ms)\n' "$limits" "$(awk -v a="$limits" -v b="$inc" 'BEGIN{print a-b}')"
unconf=$(mean unconfined)
printf '  seccomp=unconfined      %6s ms   %+.2f ms for docker'"'"'s default seccomp profile (target <= 1 ms)\n' "$unconf" "$(awk -v a="$inc" -v b="$unconf" 'BEGIN{print a-b}')"
memfd=$(mean memfd); envonly=$(mean envonly)
printf '  init from a sealed memfd copy %6s ms   %+.2f ms against the read-only mount incrun uses (CVE-2019-5736)\n' "$memfd" "$(awk -v a="$memfd" -v b="$envonly" 'BEGIN{print a-b}')"
userns=$(mean userns)
printf '  --userns=auto           %6s ms   %+.2f ms for a user namespace (id maps, idmapped layers, device binds)\n' "$userns" "$(awk -v a="$userns" -v b="$inc" 'BEGIN{print a-b}')"
bridge=$(mean bridge)
up=$(awk -F, '$1=="bridge-up" {printf "%.2f", $2*1000}' "$work/bridge-up.csv")
printf '  bridge network (default) %6s ms   %+.2f ms over --network none (creates and removes incrun0 + nft table each run)\n' "$bridge" "$(awk -v a="$bridge" -v b="$inc" 'BEGIN{print a-b}')"
printf '  bridge, network already up %6s ms   %+.2f ms over --network none (target <= 5 ms)\n' "$up" "$(awk -v a="$up" -v b="$inc" 'BEGIN{print a-b}')"
if [ -n "$runc" ]; then
  printf '  runc run                %6s ms   incrun is %.2fx faster than runc\n' "$runc" "$(awk -v a="$runc" -v b="$inc" 'BEGIN{print a/b}')"
fi

# Memory: incrun's own RSS while its container sleeps.
"$INCRUN" run --rm --network none busybox sleep 2 &
pid=$!
sleep 1
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
wait "$pid"
printf '  incrun RSS while a container runs: %.1f MB (target <= 6 MB)\n' "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
