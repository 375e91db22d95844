#!/usr/bin/env bash
# Regenerate crates/runtime-cli/text-order.txt: the functions berth-runtime runs to create,
# start, exec into, kill and delete a container, which its build places first and together
# (see crates/runtime-cli/build.rs for why).
#
#   sudo scripts/runtime-text-order.sh
#
# Builds as the README does, with scripts/build-release.sh (symbol names depend on the build's
# features and profile, so another command's build does not match the list), with the linker's
# map written, then puts a uprobe on every function of the built binary (addresses from the
# map), runs the workload on a busybox bundle and keeps the functions that were hit, in address
# order. Needs root, tracefs, busybox-static. Takes a few minutes (registering ~3,000 uprobes is
# slow).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tracefs=/sys/kernel/tracing
[[ $EUID -eq 0 ]] || { echo "must run as root (uprobes)" >&2; exit 1; }
[[ -w $tracefs/uprobe_events ]] || { echo "no tracefs at $tracefs" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-text-order.XXXXXX)
root=$work/state
bin=
buffer_kb=$(awk '{print $1}' "$tracefs/buffer_size_kb")
cleanup() {
	echo 0 >"$tracefs/events/berthorder/enable" 2>/dev/null || true
	# only our probes: others' uprobes stay
	if [[ -f $work/probes ]]; then
		python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(int(sys.argv[2])):
    try:
        os.write(fd, f"-:berthorder/f{i}\n".encode())
    except OSError:
        pass
' "$tracefs/uprobe_events" "$(wc -l <"$work/probes")"
	fi
	echo "$buffer_kb" >"$tracefs/buffer_size_kb" 2>/dev/null || true
	if [[ -n $bin ]]; then
		for id in $("$bin" --root "$root" list -q 2>/dev/null); do
			"$bin" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT

target=${CARGO_TARGET_DIR:-$repo/target}
[[ $target == /* ]] || target=$repo/$target
echo "== building: scripts/build-release.sh (linker map in $work)"
BERTH_LINK_MAP=$work "$repo/scripts/build-release.sh"
# build.rs only passes the map option when its rerun-if-env-changed fires; force a relink
# when the binary was already up to date.
if [[ ! -s $work/berth-runtime.map ]]; then
	touch "$repo/crates/runtime-cli/build.rs"
	BERTH_LINK_MAP=$work "$repo/scripts/build-release.sh"
fi
bin=$target/release/berth-runtime

"$repo/scripts/busybox-bundle.sh" "$work/run" -- true >/dev/null
"$repo/scripts/busybox-bundle.sh" "$work/sleep" -- sleep 30 >/dev/null

workload() {
	"$bin" --root "$root" run --bundle "$work/run" order-run
	"$bin" --root "$root" create --bundle "$work/sleep" order-sleep
	"$bin" --root "$root" start order-sleep
	"$bin" --root "$root" state order-sleep >/dev/null
	"$bin" --root "$root" exec order-sleep true
	"$bin" --root "$root" kill order-sleep KILL
	for _ in $(seq 50); do
		[[ $("$bin" --root "$root" state order-sleep) == *'"stopped"'* ]] && break
		sleep 0.1
	done
	"$bin" --root "$root" delete order-sleep
}

echo "== registering uprobes on $bin"
python3 - "$bin" "$work/berth-runtime.map" "$tracefs" "$work/probes" <<'EOF'
import os, re, subprocess, sys
binp, mapp, tracefs, out = sys.argv[1:]
loads = []
for line in subprocess.run(["readelf", "-lW", binp], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if f and f[0] == "LOAD" and "E" in f[6:-1]:
        loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
sect = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+\S.*:\(\.text\.(?:unlikely\.|hot\.)?(\S+)\)$")
funcs = {}
with open(mapp) as fh:
    for line in fh:
        m = sect.match(line)
        if m and int(m.group(2), 16) > 0:
            funcs.setdefault(int(m.group(1), 16), m.group(3))
fd = os.open(f"{tracefs}/uprobe_events", os.O_WRONLY | os.O_APPEND)
names = []
for vma, name in sorted(funcs.items()):
    for off, va, size in loads:
        if va <= vma < va + size:
            probe = f"p:berthorder/f{len(names)} {binp}:0x{vma - va + off:x}\n"
            try:
                os.write(fd, probe.encode())
                names.append(name)
            except OSError:
                pass
            break
os.close(fd)
with open(out, "w") as fh:
    fh.write("\n".join(names) + "\n")
print(f"{len(names)} functions probed", file=sys.stderr)
EOF

echo 1024 >"$tracefs/buffer_size_kb"
echo 1 >"$tracefs/events/berthorder/enable"
echo "== running the workload"
workload
echo 0 >"$tracefs/events/berthorder/enable"

python3 - "$tracefs/uprobe_profile" "$work/probes" "$repo/crates/runtime-cli/text-order.txt" <<'EOF'
import sys
profile, probes, out = sys.argv[1:]
names = open(probes).read().split()
hit = set()
for line in open(profile):
    f = line.split()
    # "  /path/to/bin  f123  456"
    if len(f) >= 3 and f[-2].startswith("f") and f[-2][1:].isdigit() and int(f[-1]) > 0:
        hit.add(int(f[-2][1:]))
with open(out, "w") as fh:
    fh.write("# berth-runtime: functions placed first and together at link time (see build.rs).\n")
    fh.write("# Generated by scripts/runtime-text-order.sh; do not edit by hand.\n")
    for i in sorted(hit):
        fh.write(names[i] + "\n")
print(f"{len(hit)} of {len(names)} functions hit, written to {out}", file=sys.stderr)
EOF
