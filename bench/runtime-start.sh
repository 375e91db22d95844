#!/usr/bin/env bash
# Side-by-side start-up benchmark: `RUNTIME run` of `true` in a busybox bundle
# for berth-runtime, runc and crun. See bench/README.md.
#
# Environment:
#   RUNS=20               timed runs per runtime (and per measurement)
#   WARMUP=3              untimed warm-up runs per runtime
#   BERTH_RUNTIME_BIN=... use this berth-runtime binary instead of building one
#   CARGO_TARGET_DIR=...  honoured when building berth-runtime
#   RUN_TIMEOUT=60        seconds before the first (sanity-check) run is killed
#   NO_HYPERFINE=1        skip the hyperfine measurement even if installed
set -uo pipefail

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bundle_script=$repo/scripts/busybox-bundle.sh
marker=berth-bench-ok

note() { echo "==> $*" >&2; }
die() {
	echo "runtime-start.sh: error: $*" >&2
	exit 1
}

[[ $EUID -eq 0 ]] || die "must run as root (the bundle is a rootful OCI bundle)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is required: apt-get install -y time"

command -v python3 >/dev/null || die "needs python3"

# --- temp dirs and cleanup (also on failure / Ctrl-C) --------------------------
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
declare -A ROOT=() BIN=()

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	local name root d id mp
	for name in "${!ROOT[@]}"; do
		root=${ROOT[$name]}
		[[ -d $root ]] || continue
		# Every runtime keeps one state directory per container in --root.
		for d in "$root"/*/; do
			[[ -d $d ]] || continue
			id=$(basename "$d")
			"${BIN[$name]}" --root "$root" delete --force "$id" </dev/null >/dev/null 2>&1 || true
		done
	done
	# A broken runtime could leave mounts (e.g. rootfs/proc) in the host
	# namespace: unmount them first and never recurse across file systems.
	while read -r mp; do
		umount -l "$mp" 2>/dev/null || true
	done < <(awk -v w="$work" 'index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	if awk -v w="$work" 'index($5, w "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		echo "runtime-start.sh: warning: mounts remain under $work, not removing it" >&2
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- bundles ---------------------------------------------------------------------
note "creating busybox bundles in $work"
"$bundle_script" "$work/bundle-true" -- true 2>/dev/null || die "busybox-bundle.sh failed (is busybox-static installed?)"
"$bundle_script" "$work/bundle-check" -- echo "$marker" 2>/dev/null || die "busybox-bundle.sh failed"

# --- crun on hybrid cgroups: move hugetlb off cgroup2 ----------------------------
hugetlb_fix() {
	local ctl=/sys/fs/cgroup/unified/cgroup.controllers
	grep -Eq ' - cgroup [^ ]+ [^ ]*\bhugetlb\b' /proc/self/mountinfo && return 0
	[[ -f $ctl ]] && grep -qw hugetlb "$ctl" || return 0
	note "hybrid cgroups: mounting the hugetlb v1 hierarchy on /run/hugetlb-v1 for crun"
	if ! { mkdir -p /run/hugetlb-v1 && mount -t cgroup -o hugetlb cgroup /run/hugetlb-v1; }; then
		note "could not mount hugetlb v1; crun may refuse to start containers"
	fi
}

# --- runtimes --------------------------------------------------------------------
declare -A STATUS=() MEDIAN=() MEAN=() CPU=() HF=() RSS=() FAILS=()
names=()

# The berth-runtime measured: the release build the README installs, by its very script
# (scripts/build-release.sh: statically linked; the code order of
# crates/runtime-cli/text-order.txt matches only that build's symbol names). See
# bench/README.md.
berth_bin() {
	if [[ -n ${BERTH_RUNTIME_BIN:-} ]]; then
		echo "$BERTH_RUNTIME_BIN"
		return
	fi
	if ! command -v cargo >/dev/null && [[ -f $HOME/.cargo/env ]]; then
		# shellcheck disable=SC1091
		. "$HOME/.cargo/env"
	fi
	command -v cargo >/dev/null || {
		echo "cargo not found" >"$work/berth-build.log"
		return 1
	}
	local target=${CARGO_TARGET_DIR:-target}
	[[ $target == /* ]] || target=$repo/$target
	note "building berth-runtime: scripts/build-release.sh (target dir $target)"
	"$repo/scripts/build-release.sh" >"$work/berth-build.log" 2>&1 || return 1
	echo "$target/release/berth-runtime"
}

if bin=$(berth_bin); then
	if [[ -x $bin ]]; then
		names+=(berth)
		BIN[berth]=$bin
	else
		names+=(berth)
		STATUS[berth]="FAILED: $bin is not an executable file"
	fi
else
	names+=(berth)
	STATUS[berth]="FAILED: build failed (scripts/build-release.sh)"
	tail -n 15 "$work/berth-build.log" | sed 's/^/    build: /' >&2
fi

for rt in runc crun; do
	if path=$(command -v "$rt"); then
		names+=("$rt")
		BIN[$rt]=$path
	else
		note "$rt is not installed, skipping it"
	fi
done
[[ -n ${BIN[crun]:-} ]] && hugetlb_fix

have_hyperfine=false
if [[ -z ${NO_HYPERFINE:-} ]] && command -v hyperfine >/dev/null; then
	have_hyperfine=true
fi

# run_one NAME ID BUNDLE: one `run`, stdin/stdout not a tty.
run_one() {
	"${BIN[$1]}" --root "${ROOT[$1]}" run --bundle "$3" "$2" </dev/null >/dev/null 2>>"$work/$1.err"
}

# Sanity check, warm-up, peak RSS and hyperfine of one runtime (its timed runs are interleaved
# with the others' in time_interleaved).
bench_runtime() {
	local name=$1 bin=${BIN[$1]} root="$work/root-$1" out rc i fails=0 max=0 kb hfjson
	mkdir -p "$root"
	ROOT[$name]=$root
	: >"$work/$name.err"

	# Sanity check: the container must really run and print the marker.
	# A hung runtime is killed after RUN_TIMEOUT seconds.
	out=$(timeout -k 5 "$RUN_TIMEOUT" "$bin" --root "$root" run --bundle "$work/bundle-check" "$name-check-$$" \
		</dev/null 2>>"$work/$name.err")
	rc=$?
	if [[ $rc -ne 0 || $out != *"$marker"* ]]; then
		if ((rc == 124)); then
			STATUS[$name]="FAILED: 'run' of 'echo $marker' did not exit within ${RUN_TIMEOUT}s (killed)"
		elif [[ -z $out ]]; then
			STATUS[$name]="FAILED: 'run' of 'echo $marker' exited $rc with no output"
		else
			STATUS[$name]="FAILED: 'run' of 'echo $marker' exited $rc, output '$(head -c 60 <<<"$out" | tr '\n' ' ')'"
		fi
		tail -n 5 "$work/$name.err" | sed "s/^/    $name stderr: /" >&2
		return
	fi

	for ((i = 1; i <= WARMUP; i++)); do
		run_one "$name" "$name-warm-$$-$i" "$work/bundle-true" || ((fails++))
	done

	# peak RSS: max of GNU time's %M (KiB) over RUNS runs.
	for ((i = 1; i <= RUNS; i++)); do
		/usr/bin/time -f %M -o "$work/$name.rss" \
			"$bin" --root "$root" run --bundle "$work/bundle-true" "$name-rss-$$-$i" \
			</dev/null >/dev/null 2>>"$work/$name.err" || ((fails++))
		kb=$(tail -n 1 "$work/$name.rss")
		[[ $kb =~ ^[0-9]+$ ]] && ((kb > max)) && max=$kb
	done
	RSS[$name]=$(awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }')

	# hyperfine (optional, one runtime after the other): sh's $$ gives each run a unique container id.
	if $have_hyperfine; then
		hfjson=$work/$name.hyperfine.json
		if hyperfine --style basic --runs "$RUNS" --warmup "$WARMUP" --export-json "$hfjson" \
			--command-name "$name" \
			"exec $(printf %q "$bin") --root $(printf %q "$root") run --bundle $(printf %q "$work/bundle-true") $name-hf-\$\$" \
			>"$work/$name.hyperfine.log" 2>&1; then
			HF[$name]=$(awk -F'[:,]' '
				/"mean":/ && m == "" { m = $2 }
				/"stddev":/ && s == "" { s = $2 }
				END { if (m != "") printf "%.1f ± %.1f", m * 1000, s * 1000 }' "$hfjson")
		else
			HF[$name]="failed"
			((fails++))
			tail -n 5 "$work/$name.hyperfine.log" | sed "s/^/    $name hyperfine: /" >&2
		fi
	fi

	FAILS[$name]=$fails
	STATUS[$name]=ok
}

# The timed runs: RUNS rounds, each running every runtime once in turn (the order reversed
# every other round), so a change of the machine's load during the benchmark hits all of them
# alike. Each run is timed on its own with a
# monotonic clock, and its CPU time (user + system of the runtime and of every process it waited
# for, from getrusage) is taken too: on a busy machine it varies far less than the wall time.
# Prints NAME MEDIAN_MS MEAN_MS CPU_MS FAILS per runtime.
time_interleaved() {
	python3 - "$RUNS" "$work/bundle-true" "$work" "$@" <<-'PY'
		import os, resource, statistics, subprocess, sys, time
		runs, bundle, work, rest = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
		rts = [rest[i:i + 3] for i in range(0, len(rest), 3)]
		wall = {n: [] for n, _, _ in rts}; cpu = {n: 0.0 for n, _, _ in rts}; fails = {n: 0 for n, _, _ in rts}
		def used():
		    r = resource.getrusage(resource.RUSAGE_CHILDREN)
		    return r.ru_utime + r.ru_stime
		for i in range(1, runs + 1):
		    # every other round in reverse order: no runtime always follows the same one
		    for name, binary, root in (rts if i % 2 else rts[::-1]):
		        with open(f"{work}/{name}.err", "a") as err:
		            c0, t0 = used(), time.monotonic()
		            rc = subprocess.call([binary, "--root", root, "run", "--bundle", bundle, f"{name}-t{os.getpid()}-{i}"],
		                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
		            wall[name].append((time.monotonic() - t0) * 1000)
		            cpu[name] += (used() - c0) * 1000
		        fails[name] += rc != 0
		for name, _, _ in rts:
		    print(f"{name} {statistics.median(wall[name]):.1f} {statistics.mean(wall[name]):.1f} {cpu[name] / runs:.1f} {fails[name]}")
	PY
}

finish_status() {
	local name=$1 fails=$(( ${FAILS[$1]:-0} + ${2:-0} ))
	if ((fails > 0)); then
		STATUS[$name]="FAILED: $fails failed runs (numbers are unreliable)"
		tail -n 5 "$work/$name.err" | sed "s/^/    $name stderr: /" >&2
	else
		STATUS[$name]=ok
	fi
}

for name in "${names[@]}"; do
	[[ -n ${BIN[$name]:-} ]] || continue
	note "checking $name (${BIN[$name]}): $WARMUP warm-up, then $RUNS runs for peak RSS$($have_hyperfine && echo ' and hyperfine')"
	bench_runtime "$name"
done
timed=()
for name in "${names[@]}"; do
	[[ ${STATUS[$name]:-} == ok ]] && timed+=("$name" "${BIN[$name]}" "${ROOT[$name]}")
done
if ((${#timed[@]})); then
	note "timing: $RUNS rounds of one run per runtime, interleaved"
	while read -r name med mean cpu fails; do
		MEDIAN[$name]=$med
		MEAN[$name]=$mean
		CPU[$name]=$cpu
		finish_status "$name" "$fails"
	done < <(time_interleaved "${timed[@]}")
fi

# --- report ----------------------------------------------------------------------
label() { [[ $1 == berth ]] && echo berth-runtime || echo "$1"; }
ok() { [[ ${STATUS[$1]:-} == ok ]]; }

echo
echo "runtime start-up: '<runtime> run' of 'true' in a busybox bundle, $RUNS interleaved runs each ($(uname -r), $(nproc) CPUs)"
[[ -n ${BIN[berth]:-} ]] && echo "berth-runtime: ${BIN[berth]} ($(file -b "${BIN[berth]}" 2>/dev/null | grep -oE '(static-pie|statically|dynamically) linked' || echo '?'), $(($(stat -c %s "${BIN[berth]}") / 1024)) KiB)"
echo
printf '%-14s %10s %10s %8s %20s %13s  %s\n' runtime "median ms" "mean ms" "CPU ms" "hyperfine ms" "peak RSS MB" status
printf '%-14s %10s %10s %8s %20s %13s  %s\n' -------------- ---------- ---------- -------- -------------------- ------------- ------
for name in "${names[@]}"; do
	printf '%-14s %10s %10s %8s %20s %13s  %s\n' "$(label "$name")" "${MEDIAN[$name]:--}" "${MEAN[$name]:--}" "${CPU[$name]:--}" \
		"${HF[$name]:--}" "${RSS[$name]:--}" "${STATUS[$name]:-}"
done
echo

for other in runc crun; do
	[[ -n ${BIN[$other]:-} ]] || continue
	if ok berth && ok "$other"; then
		awk -v bt="${MEDIAN[berth]}" -v ot="${MEDIAN[$other]}" -v bc="${CPU[berth]}" -v oc="${CPU[$other]}" \
			-v br="${RSS[berth]}" -v orss="${RSS[$other]}" -v o="$other" \
			'BEGIN { printf "berth/%-5s  median time %.2fx   CPU time %.2fx   peak RSS %.2fx\n", o, bt / ot, bc / oc, br / orss }'
	else
		printf 'berth/%-5s  n/a (%s)\n' "$other" "$(ok berth && echo "$other failed" || echo "berth-runtime failed")"
	fi
done

failed=0
for name in "${names[@]}"; do ok "$name" || failed=1; done
exit "$failed"
