#!/usr/bin/env bash
# Builds a minimal busybox root filesystem from Debian's busybox-static and imports it as busybox:latest.
# Usage: rootfs/busybox.sh [INCRUN_BINARY]     (default: incrun from PATH)
set -euo pipefail

incrun=${1:-incrun}
case "$incrun" in */*) incrun=$(realpath "$incrun") ;; esac
if ! command -v "$incrun" >/dev/null 2>&1; then
    echo "busybox.sh: incrun binary \"$incrun\" not found" >&2
    exit 1
fi
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    apt-get install -y -qq busybox-static >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq busybox-static >/dev/null; }
fi

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/incrun-busybox.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir "$root"
cd "$root"

mkdir -p bin sbin usr/bin usr/sbin etc root tmp home/incrun proc sys dev var/tmp
chmod 1777 tmp var/tmp
chmod 0700 root
install -m 0755 /bin/busybox bin/busybox
# every applet is a hard link to the one binary, at the path busybox expects (usr/bin/wget, sbin/ifconfig, ...)
/bin/busybox --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] || ln -f bin/busybox "$applet"
done

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
incrun:x:1000:1000:incrun:/home/incrun:/bin/sh
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
daemon:x:1:
wheel:x:10:root
staff:x:50:incrun
nogroup:x:65534:
incrun:x:1000:
GROUP
: > etc/hosts
: > etc/hostname
: > etc/resolv.conf
chown 1000:1000 home/incrun

# fixed order and times: the same busybox package always gives the same layer (diff id)
tarball=$work/busybox.tar.gz
tar --numeric-owner --sort=name --mtime=@946684800 -C "$root" -czf "$tarball" .
"$incrun" import --change 'CMD ["sh"]' "$tarball" busybox:latest
