#!/usr/bin/env bash
# Latency of `incrun exec CONTAINER true` into a running container, against `runc exec` into a runc
# container of the same busybox root filesystem. Prints the means and the ratio.
#   bench/exec.sh [INCRUN_BINARY]
set -euo pipefail
INCRUN=${1:-incrun}
RUNS=${RUNS:-100}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d /tmp/incrun-bench-exec.XXXXXX)
name=incrun-bench-exec-$$
runpid=
cleanup() {
  [ -n "$runpid" ] && kill -TERM "$runpid" 2>/dev/null && wait "$runpid" 2>/dev/null || true
  command -v runc >/dev/null && runc --root "$work/runc-state" delete -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A foreground container in the background; SIGTERM to incrun is forwarded to its shell, which exits.
"$INCRUN" run --rm --name "$name" busybox sh -c 'trap "exit 0" TERM; echo READY; while :; do sleep 1; done' >"$work/run.log" 2>&1 &
runpid=$!
for _ in $(seq 100); do grep -q READY "$work/run.log" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$work/run.log" || { echo "bench: the container did not start: $(cat "$work/run.log")" >&2; exit 1; }

cmds=(-n incrun "$INCRUN exec $name true")
if command -v runc >/dev/null; then
  mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/"{proc,dev,sys,etc,tmp}
  cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
  for a in sh true sleep; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
  (cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "3600"/' config.json)
  runc --root "$work/runc-state" run -d -b "$work/bundle" "$name" </dev/null >/dev/null 2>&1
  cmds+=(-n runc "runc --root $work/runc-state exec $name /bin/true")
fi

hyperfine -N --warmup 5 --runs "$RUNS" --export-csv "$work/exec.csv" "${cmds[@]}" >&2

mean() { awk -F, -v n="$1" '$1==n {printf "%.2f", $2*1000}' "$work/exec.csv"; }
inc=$(mean incrun); runc=$(mean runc)
echo
echo "exec of true into a running container (mean of $RUNS, hyperfine -N)"
printf '  incrun exec   %6s ms\n' "$inc"
if [ -n "$runc" ]; then
  printf '  runc exec     %6s ms   incrun is %.2fx faster than runc\n' "$runc" "$(awk -v a="$runc" -v b="$inc" 'BEGIN{print a/b}')"
fi
