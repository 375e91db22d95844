#!/usr/bin/env bash
# Interop: containerd (ctr, the io.containerd.runc.v2 shim) drives berth-runtime instead of runc,
# on an image berth itself built (`berth import` of a busybox-static rootfs, `berth save` as a
# docker archive, `ctr images import`). Checks run, run -d + exec + kill, and the exit code.
#
# Usage: tests/interop/containerd.sh BERTH_RUNTIME_BIN BERTH_BIN   (as root; skips without containerd)
set -euo pipefail

runtime=$(readlink -f "$1")
berth=$(readlink -f "$2")
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
    echo "SKIP: containerd/ctr not installed"
    exit 0
fi
work=$(mktemp -d /tmp/berth-interop-ctr.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    # containerd mounts snapshots under its root: unmount deepest first, then remove everything.
    grep -F "$work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l || true
    # ctr puts containers under /default/<id>: remove that namespace directory once it is empty.
    for d in /sys/fs/cgroup/*/default; do rmdir "$d" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in $("$rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"; done
tar -C "$rootfs" -cf "$work/rootfs.tar" .
"$berth" --root "$work/berth" import "$work/rootfs.tar" localhost/berth-interop:latest >/dev/null
"$berth" --root "$work/berth" save localhost/berth-interop:latest >"$work/image.tar"

cat >"$work/config.toml" <<CONF
version = 2
root = "$work/root"
state = "$work/state"
[grpc]
  address = "$work/c.sock"
CONF
containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$work/c.sock" ] && break; sleep 0.1; done
ctr() { command ctr -a "$work/c.sock" "$@"; }
ctr images import "$work/image.tar" >/dev/null
img=localhost/berth-interop:latest
run=(run --runtime io.containerd.runc.v2 --runc-binary "$runtime")

fail() { echo "FAIL: $*"; echo "--- containerd log:"; tail -n 30 "$work/containerd.log"; exit 1; }

out=$(ctr "${run[@]}" --rm "$img" berth-interop-1 sh -c 'echo hello from berth; echo pid=$$') || fail "ctr run: $out"
[ "$out" = $'hello from berth\npid=1' ] || fail "unexpected output: $out"

set +e
ctr "${run[@]}" --rm "$img" berth-interop-2 sh -c 'exit 7'
code=$?
set -e
[ "$code" = 7 ] || fail "exit code $code, want 7"

ctr "${run[@]}" -d "$img" berth-interop-3 sleep 60 >/dev/null || fail "ctr run -d"
out=$(ctr task exec --exec-id e1 berth-interop-3 sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "') || fail "ctr task exec: $out"
[ "$out" = "exec-ok"$'\n'"sleep 60 " ] || fail "exec output: $out"
ctr task kill -s SIGKILL berth-interop-3 || fail "ctr task kill"
for _ in $(seq 100); do ctr task ls | grep -q 'berth-interop-3.*STOPPED' && break; sleep 0.1; done
ctr task rm berth-interop-3 >/dev/null || fail "ctr task rm"
ctr container rm berth-interop-3 || fail "ctr container rm"
echo "containerd interop: 3 passed, 0 failed"
