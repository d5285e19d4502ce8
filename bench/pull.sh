#!/usr/bin/env bash
# Pull of a 3-layer (~50 MB of gzip) image from a local registry (Debian's docker-registry on 127.0.0.1):
# incrun pull (download + verify + unpack) against skopeo copy into a dir: (download + verify only).
# Prints the times and the ratio (target: incrun <= 1.0x skopeo).
#   bench/pull.sh [INCRUN_BINARY]
set -euo pipefail
INCRUN=$(realpath "${1:-$(command -v incrun)}")
RUNS=${RUNS:-5}
for c in docker-registry skopeo hyperfine; do
  command -v "$c" >/dev/null || { echo "bench: $c is required (apt-get install ${c/skopeo/skopeo})" >&2; exit 1; }
done
work=$(mktemp -d /tmp/incrun-pullbench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/config.yml" >/dev/null 2>&1 & pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

# three layers: busybox, ~25 MB and ~20 MB of mixed files (random data compresses badly, like binaries)
export INCRUN_ROOT=$work/src
"$(dirname "$0")/../rootfs/busybox.sh" "$INCRUN" >/dev/null
mkdir -p "$work/l2/opt/a" "$work/l3/opt/b"
for i in $(seq 200); do head -c 130000 /dev/urandom > "$work/l2/opt/a/f$i"; done
for i in $(seq 2000); do head -c 10000 /dev/urandom > "$work/l3/opt/b/f$i"; done
tar -C "$work/l2" -czf "$work/l2.tgz" . ; tar -C "$work/l3" -czf "$work/l3.tgz" .
# assemble the 3-layer image by loading a docker-archive built from the three tarballs
python3 - "$work" "$INCRUN_ROOT" <<'PY'
import json, sys, hashlib, gzip, os, shutil, tarfile
work, root = sys.argv[1], sys.argv[2]
idx = json.load(open(f"{root}/images/index.json"))
cid = idx["references"]["docker.io/library/busybox:latest"]
cfg = json.load(open(f"{root}/blobs/sha256/{cid[7:]}"))
info = json.load(open(f"{root}/layers/sha256/{cfg['rootfs']['diff_ids'][0][7:]}.json"))
layers = [f"{root}/content/sha256/{info['blobs'][0]['digest'][7:]}", f"{work}/l2.tgz", f"{work}/l3.tgz"]
diff = [cfg['rootfs']['diff_ids'][0]] + ["sha256:" + hashlib.sha256(gzip.open(p).read()).hexdigest() for p in layers[1:]]
cfg["rootfs"]["diff_ids"] = diff
cfg["history"] = [{"created_by": f"layer {i}"} for i in range(3)]
os.makedirs(f"{work}/arc")
c = json.dumps(cfg).encode(); open(f"{work}/arc/config.json", "wb").write(c)
for i, p in enumerate(layers): shutil.copy(p, f"{work}/arc/l{i}.tar.gz")
json.dump([{"Config": "config.json", "RepoTags": ["bench/pull:1"], "Layers": [f"l{i}.tar.gz" for i in range(3)]}], open(f"{work}/arc/manifest.json", "w"))
with tarfile.open(f"{work}/arc.tar", "w") as t:
    for n in os.listdir(f"{work}/arc"): t.add(f"{work}/arc/{n}", n)
PY
"$INCRUN" load -q -i "$work/arc.tar"
"$INCRUN" tag bench/pull:1 "127.0.0.1:$port/bench/pull:1"
"$INCRUN" push -q "127.0.0.1:$port/bench/pull:1" >/dev/null
size=$(du -sh "$work/registry" | cut -f1)

hyperfine -N --warmup 1 --runs "$RUNS" --export-csv "$work/pull.csv" \
  --prepare "rm -rf $work/dst $work/skopeo" \
  -n incrun "env INCRUN_ROOT=$work/dst $INCRUN pull -q 127.0.0.1:$port/bench/pull:1" \
  -n skopeo "skopeo copy --src-tls-verify=false -q docker://127.0.0.1:$port/bench/pull:1 dir:$work/skopeo" >&2

mean() { awk -F, -v n="$1" '$1==n {printf "%.0f", $2*1000}' "$work/pull.csv"; }
inc=$(mean incrun); sk=$(mean skopeo)
echo
echo "pull of a 3-layer image ($size in the registry), mean of $RUNS:"
echo "  incrun pull (download, verify, unpack): $inc ms"
echo "  skopeo copy to dir: (download, verify):  $sk ms"
awk -v a="$inc" -v b="$sk" 'BEGIN {printf "  incrun / skopeo = %.2fx (target <= 1.0x)\n", a/b}'
