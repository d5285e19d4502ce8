#!/usr/bin/env bash
# incrun-oci against runc on the same busybox bundle running /bin/true, side by side in one hyperfine
# run: `run` (create + start + wait + delete in one process) and the engine's sequence of separate
# create, start and delete invocations. Prints ratios; the target (>= 2.5x faster than runc) is in
# README.md.
#   bench/oci.sh [INCRUN_BINARY]
set -euo pipefail
INCRUN=${1:-incrun}
INCRUN=$(realpath "$(command -v "$INCRUN")")
RUNS=${RUNS:-60}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
command -v runc >/dev/null || { echo "bench: runc is required (apt-get install runc)" >&2; exit 1; }
work=$(mktemp -d /tmp/incrun-oci-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
ln -s "$INCRUN" "$work/incrun-oci"

mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/"{proc,dev,sys,etc,tmp}
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
(cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/' config.json)

inc="$work/incrun-oci --root $work/incrun-state"
rc="runc --root $work/runc-state"
# the engine's sequence: create, start, wait for exit, delete (one shell for both runtimes)
seq() { echo "sh -c '$1 create -b $work/bundle seq >/dev/null && $1 start seq && while [ \"\$($1 state seq | grep -c stopped)\" = 0 ]; do :; done; $1 delete seq'"; }

hyperfine -N --warmup 5 --runs "$RUNS" --export-csv "$work/oci.csv" \
  -n incrun-oci-run "$inc run -b $work/bundle bench" \
  -n runc-run "$rc run -b $work/bundle bench" \
  -n incrun-oci-seq "$(seq "$inc")" \
  -n runc-seq "$(seq "$rc")" >&2

# the median: on a shared machine a few slow outliers move the mean far more than either runtime does
mean() { awk -F, -v n="$1" '$1==n {printf "%.2f", $4*1000}' "$work/oci.csv"; }
ir=$(mean incrun-oci-run); rr=$(mean runc-run); is=$(mean incrun-oci-seq); rs=$(mean runc-seq)
echo
echo "busybox bundle running /bin/true (median of $RUNS, hyperfine -N)"
printf '  run:                    incrun-oci %6s ms   runc %6s ms   incrun-oci is %.2fx faster (target >= 2.5x)\n' "$ir" "$rr" "$(awk -v a="$rr" -v b="$ir" 'BEGIN{print a/b}')"
printf '  create+start+delete:    incrun-oci %6s ms   runc %6s ms   incrun-oci is %.2fx faster\n' "$is" "$rs" "$(awk -v a="$rs" -v b="$is" 'BEGIN{print a/b}')"
