#!/usr/bin/env bash
# Interop: podman (through conmon) drives berth-runtime instead of crun/runc, on an image
# imported from a busybox-static rootfs tarball. Checks run --rm (output, exit code), run -d,
# exec, stop and rm with `--runtime PATH`, then berth as a named runtime of containers.conf
# (output, and the runtime's error message shown for a missing program). Raising rlimits fails on this host (no CAP_SYS_RESOURCE), so the ulimits
# podman asks for are pinned to values that need no raise.
#
# Usage: tests/interop/podman.sh BERTH_RUNTIME_BIN   (as root; skips without podman)
set -euo pipefail

runtime=$(readlink -f "$1")
if ! command -v podman >/dev/null; then
    echo "SKIP: podman not installed"
    exit 0
fi
work=$(mktemp -d /tmp/berth-interop-podman.XXXXXX)
pm() { podman --root "$work/root" --runroot "$work/runroot" --runtime "$runtime" "$@"; }
cleanup() {
    pm rm -af >/dev/null 2>&1 || true
    grep -F "$work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l || true
    # podman's cgroup parent, once empty.
    for d in /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent; do rmdir "$d" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in $("$rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"; done
tar -C "$rootfs" -cf "$work/rootfs.tar" .
pm import "$work/rootfs.tar" localhost/berth-interop:latest >/dev/null
img=localhost/berth-interop:latest
lim=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

out=$(pm run --rm "${lim[@]}" "$img" sh -c 'echo hello from berth; echo pid=$$; echo x > /dev/null && echo dev-ok') || fail "podman run: $out"
[ "$out" = $'hello from berth\npid=1\ndev-ok' ] || fail "unexpected output: $out"

set +e
pm run --rm "${lim[@]}" "$img" sh -c 'exit 7'
code=$?
set -e
[ "$code" = 7 ] || fail "exit code $code, want 7"

pm run -d --name berth-interop-d "${lim[@]}" "$img" sleep 300 >/dev/null || fail "podman run -d"
out=$(pm exec berth-interop-d sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "') || fail "podman exec: $out"
[ "$out" = "exec-ok"$'\n'"sleep 300 " ] || fail "exec output: $out"
pm stop -t 1 berth-interop-d >/dev/null 2>&1 || fail "podman stop"
state=$(pm ps -a --filter name=berth-interop-d --format '{{.Status}}')
[[ $state == Exited* ]] || fail "state after stop: $state"
pm rm berth-interop-d >/dev/null || fail "podman rm"

# A named runtime, as the README configures it in containers.conf: listed in
# runtime_supports_json, podman passes --log-format=json and shows the runtime's own error.
cat >"$work/containers.conf" <<CONF
[engine]
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "berth"]

[engine.runtimes]
berth = ["$runtime"]
CONF
named() { CONTAINERS_CONF="$work/containers.conf" podman --root "$work/root" --runroot "$work/runroot" --runtime berth "$@"; }
name=$(named info --format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}') || fail "podman info: $name"
[ "$name" = "berth $runtime" ] || fail "named runtime: $name"
out=$(named run --rm "${lim[@]}" "$img" sh -c 'echo hello from the named runtime') || fail "podman --runtime berth run: $out"
[ "$out" = "hello from the named runtime" ] || fail "named runtime output: $out"
set +e
out=$(named run --rm "${lim[@]}" "$img" /no/such/program 2>&1)
code=$?
set -e
[ "$code" = 127 ] || fail "missing program: exit code $code, want 127: $out"
grep -q 'exec: "/no/such/program": No such file or directory' <<<"$out" || fail "the runtime's error is not shown: $out"
echo "podman interop: 5 passed, 0 failed"
