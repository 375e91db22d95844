#!/usr/bin/env bash
# Make a busybox rootfs tarball from the host's busybox-static, for `berth import`
# (no registry needed):
#
#   scripts/busybox-image.sh /tmp/busybox.tar
#   berth import --change 'CMD ["sh"]' /tmp/busybox.tar busybox:latest
#   berth run --rm busybox echo hello
set -euo pipefail

out="${1:?usage: $0 OUT.tar}"
bb=/bin/busybox   # static: Debian's busybox-static
[ -x "$bb" ] || { echo "$bb not found: apt-get install busybox-static" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,home,var}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
app:x:1000:
nogroup:x:65534:
GROUP
tar --numeric-owner -C "$root" -cf "$out" .
echo "$out"
