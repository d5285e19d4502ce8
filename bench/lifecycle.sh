#!/usr/bin/env bash
# Detached containers: how long `incrun run -d` takes to return, the resident memory of a container's
# supervisor, and 100 sequential `run --rm true`. Targets (README): run -d <= 15 ms, RSS <= 6 MB,
# 100 runs <= 1.2 s.
#   bench/lifecycle.sh [INCRUN_BINARY]
set -euo pipefail
INCRUN=${1:-incrun}
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d /tmp/incrun-bench.XXXXXX)
export INCRUN_ROOT=$work/root INCRUN_CGROUP_PARENT=incrun-bench-$$
cleanup() { "$INCRUN" rm -f $("$INCRUN" ps -aq) >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
"$(dirname "$0")/../rootfs/busybox.sh" "$INCRUN" >/dev/null

# run -d returns once the command runs; each run leaves a sleeping container, removed afterwards
hyperfine -N --warmup 3 --runs "$RUNS" --export-csv "$work/detach.csv" -n detach "$INCRUN run -d --network none busybox sleep 600" >&2
detach=$(awk -F, '$1=="detach" {printf "%.2f", $2*1000}' "$work/detach.csv")
"$INCRUN" rm -f $("$INCRUN" ps -aq) >/dev/null

# supervisor memory, 2 s after start (it gives its start-up pages back after 1 s)
id=$("$INCRUN" run -d --network none busybox sleep 600)
sleep 2
pid=$("$INCRUN" inspect -f '{{.State.Pid}}' "$id")
sup=$(awk '{print $4}' "/proc/$pid/stat")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$sup/status")
anon=$(awk '/^RssAnon/ {print $2}' "/proc/$sup/status")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$sup/smaps_rollup")
"$INCRUN" rm -f "$id" >/dev/null

start=$(date +%s%N)
for _ in $(seq 100); do "$INCRUN" run --rm --network none busybox true; done
hundred=$(( ($(date +%s%N) - start) / 1000000 ))

echo
echo "detached containers"
printf '  run -d returns after     %6s ms   (target <= 15 ms)\n' "$detach"
printf '  supervisor RSS           %6s kB   (%s kB private; PSS %s kB; target <= 6144 kB)\n' "$rss" "$anon" "$pss"
printf '  100 x run --rm true      %6s ms   (target <= 1200 ms)\n' "$hundred"
