#!/usr/bin/env bash
# Side-by-side benchmark: create + start + delete of a busybox container running `true` with a
# memory and a pids limit (so cgroups are created, limited and removed each time), N cycles per
# runtime, berth-runtime vs runc vs crun in one run. Prints mean ms per cycle and ratios.
#
# Usage (root): bench/runtime-limits.sh [N=20]   env: BERTH_RUNTIME_BIN (default: target/release)
set -euo pipefail
n=${1:-20}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
berth=${BERTH_RUNTIME_BIN:-$repo/target/release/berth-runtime}
[ -x "$berth" ] || "$repo/scripts/build-release.sh" >/dev/null
work=$(mktemp -d /tmp/berth-bench-limits.XXXXXX)
trap 'for r in "$work"/root-*; do [ -d "$r" ] || continue; rt=${r##*/root-}; for c in "$r"/*/; do [ -d "$c" ] && "${BIN[$rt]}" --root "$r" delete --force "$(basename "$c")" >/dev/null 2>&1; done; done; rm -rf "$work"' EXIT

# crun refuses hybrid hosts while hugetlb sits on cgroup2.
if ! grep -Eq ' - cgroup [^ ]+ [^ ]*\bhugetlb\b' /proc/self/mountinfo && grep -qsw hugetlb /sys/fs/cgroup/unified/cgroup.controllers; then
    mkdir -p /run/hugetlb-v1 && mount -t cgroup -o hugetlb cgroup /run/hugetlb-v1
fi

"$repo/scripts/busybox-bundle.sh" "$work/bundle" -- true >/dev/null
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["linux"]["resources"] = {"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 64}}
json.dump(c, open(p, "w"))
PY

declare -A BIN=([berth]=$berth)
for r in runc crun; do command -v "$r" >/dev/null && BIN[$r]=$(command -v "$r"); done
declare -A MS
for rt in berth runc crun; do
    bin=${BIN[$rt]:-}
    [ -n "$bin" ] || { echo "skip $rt: not installed"; continue; }
    root=$work/root-$rt
    mkdir -p "$root"
    cycle() {
        local id=$1
        "$bin" --root "$root" create --bundle "$work/bundle" "$id" </dev/null >/dev/null 2>&1
        "$bin" --root "$root" start "$id" </dev/null >/dev/null 2>&1
        "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1
    }
    for i in 1 2 3; do cycle "warm-$rt-$i"; done
    t0=$(date +%s%N)
    for i in $(seq "$n"); do cycle "b-$rt-$i"; done
    t1=$(date +%s%N)
    MS[$rt]=$(( (t1 - t0) / n / 1000 ))
    leftover=$(find /sys/fs/cgroup -maxdepth 2 -name "b-$rt-*" | wc -l)
    printf '%-14s %8s.%03d ms/cycle   cgroup dirs left: %s\n' "$rt" $(( MS[$rt] / 1000 )) $(( MS[$rt] % 1000 )) "$leftover"
done
for other in runc crun; do
    [ -n "${MS[$other]:-}" ] && [ -n "${MS[berth]:-}" ] &&
        awk -v a="${MS[berth]}" -v b="${MS[$other]}" -v o="$other" 'BEGIN { printf "berth/%s time %.2fx\n", o, a / b }'
done
