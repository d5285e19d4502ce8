#!/usr/bin/env bash
# incrun's one entry point (run as root):
#   ./build.sh           install the Debian packages it needs, build the NativeAOT binary,
#                        install /usr/local/bin/incrun, build the local `busybox` image
#   ./build.sh test      build, then run every test (unit + integration with real containers);
#                        the last line is "N passed, N failed, N skipped"
#   ./build.sh test-vm   build, then run the Root integration tests in a qemu VM with a pure cgroup v2
#                        hierarchy (tests/vm/run.sh); the last line is "VM (cgroup v2): N passed, ..."
#   ./build.sh bench     run the benchmarks in bench/
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
PREFIX=${PREFIX:-/usr/local}
OUT=$ROOT/artifacts
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# gcc/zlib: NativeAOT links with them; busybox-static: the local image; util-linux: script/setpriv
# for tests; hyperfine/runc: benchmarks; nftables: NAT and published ports (libnftables) of bridge networks;
# qemu-system-x86/xz-utils: the cgroup v2 test VM (test-vm); docker-registry/apache2-utils (htpasswd): the
# local registry of the image tests; podman/conmon, containerd (ctr + the runc v2 shim): the engines the incrun-oci tests drive.
PACKAGES=(gcc libc6-dev zlib1g-dev busybox-static util-linux hyperfine runc tar gzip nftables qemu-system-x86 xz-utils docker-registry apache2-utils podman conmon containerd)

say() { printf '==> %s\n' "$*" >&2; }

deps() {
  [ "$(id -u)" = 0 ] || { echo "build.sh: run as root (it installs packages and /usr/local/bin/incrun)" >&2; exit 1; }
  local missing=()
  for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null || { echo "build.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
  subids
}

# --userns=auto takes blocks of host ids from the subordinate ids of the user "incrun" (as docker's
# userns-remap does for dockremap): 2^28 ids (4096 containers of 65536), placed above every range the
# files already give out.
subids() {
  local f start
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    grep -q '^incrun:' "$f" && continue
    start=$(awk -F: 'BEGIN { m = 2147483648 } NF == 3 && $2 + $3 > m { m = $2 + $3 } END { printf "%.0f", m }' "$f")
    echo "incrun:$start:268435456" >> "$f"
    say "added incrun:$start:268435456 to $f (--userns=auto)"
  done
}

build() {
  say "building incrun (NativeAOT)"
  dotnet publish src/Cli/Inception.Runtime.Cli.csproj -c Release -o "$OUT/bin" --nologo -v quiet -clp:ErrorsOnly
  rm -f "$OUT/bin/"*.dbg "$OUT/bin/"*.pdb
}

install_bin() {
  install -D -m 0755 "$OUT/bin/incrun" "$PREFIX/bin/incrun"
  # the runc-compatible OCI runtime is the same binary under the name incrun-oci
  ln -sfn incrun "$PREFIX/bin/incrun-oci"
  say "installed $PREFIX/bin/incrun (and incrun-oci)"
}

images() {
  say "building the busybox image"
  rootfs/busybox.sh "$PREFIX/bin/incrun"
}

run_tests() {
  local results=$OUT/test-results status=0
  rm -rf "$results"
  say "running tests"
  INCRUN_BIN="$OUT/bin/incrun" dotnet test tests/Inception.Runtime.Tests/Inception.Runtime.Tests.csproj --nologo \
    --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" --results-directory "$results" || status=$?
  local trx
  trx=$(find "$results" -name '*.trx' | head -n 1)
  if [ -z "$trx" ]; then echo "0 passed, 1 failed, 0 skipped"; return 1; fi
  local counters total passed failed
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  total=$(sed -E 's/.* total="([0-9]+)".*/\1/' <<<"$counters")
  passed=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")
  failed=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
  local errors
  errors=$(sed -E 's/.* error="([0-9]+)".*/\1/' <<<"$counters")
  failed=$((failed + errors))
  echo "$passed passed, $failed failed, $((total - passed - failed)) skipped"
  [ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
}

test_vm() {
  say "building the test assembly"
  dotnet build tests/Inception.Runtime.Tests/Inception.Runtime.Tests.csproj --nologo -v quiet -clp:ErrorsOnly
  tests/vm/run.sh "$(find tests/Inception.Runtime.Tests/bin/Debug -name Inception.Runtime.Tests.dll | head -n 1)"
}

case "${1:-all}" in
  all) deps; build; install_bin; images ;;
  build) deps; build ;;
  test) deps; build; run_tests ;;
  test-vm) deps; build; test_vm ;;
  bench) deps; build; install_bin; images; bench/startup.sh "$PREFIX/bin/incrun"; bench/exec.sh "$PREFIX/bin/incrun"; bench/lifecycle.sh "$PREFIX/bin/incrun" ;;
  *) echo "usage: ./build.sh [test|test-vm|bench|build]" >&2; exit 2 ;;
esac
