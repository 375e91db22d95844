#!/usr/bin/env bash
# Density, side by side in one run: N idle containers on the default bridge
# (`run -d IMG sleep 100000` x N) per engine, then what a user does with them:
#   start time (ms per container), host memory per container (MemAvailable delta, and the
#   memory the containers pin: anonymous, unreclaimable slab, page tables, kernel stacks and
#   shmem, from /proc/meminfo after caches are dropped: steadier than MemAvailable, which
#   moves with the page cache and per-CPU lists; its parts are printed below the table), berth's
#   monitors' private memory per container, `ps`, `ps -a` and
#   `stats --no-stream` with all of them up, and `rm -f` of all.
# berth runs every N given; docker and podman the peers' N (they take minutes at 1,000).
#
# Usage: bench/density.sh [-n "100 1000"] [--peers-n "100"] [--no-docker] [--no-podman]
# Environment:
#   BERTH_BIN=...        berth binary to use (default $CARGO_TARGET_DIR/release/berth,
#                        built with scripts/build-release.sh if missing)
#   DOCKER_HOST=...      use this docker daemon; otherwise a private dockerd is started
#                        (its own bridge) and stopped at the end
set -uo pipefail

NS="100 1000" PEERS_NS="100"
do_docker=1 do_podman=1
while (($#)); do
	case $1 in
	-n) NS=$2; shift 2 ;;
	--peers-n) PEERS_NS=$2; shift 2 ;;
	--no-docker) do_docker=0; shift ;;
	--no-podman) do_podman=0; shift ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "density.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

NAME=density.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
[[ $EUID -eq 0 ]] || die "must run as root"
for n in $NS $PEERS_NS; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "counts must be positive integers: $n"; done

IMG=berth-bench:latest
work=$(mktemp -d /tmp/berth-density.XXXXXX)
chmod 755 "$work"
BROOT=$work/berth-root
own_dockerd_pid=
docker_host_given=${DOCKER_HOST:-}
PODMAN=(podman --root "$work/podman-root" --runroot "$work/podman-run")
# podman on this host needs explicit ulimits (no CAP_SYS_RESOURCE to raise its defaults)
PODMAN_RUN=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
DOCKER_BRIDGE=bdens0

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	berth_cleanup
	if [[ -n ${CMD[docker]:-} ]]; then
		remove_all docker >/dev/null 2>&1
		docker rmi -f "$IMG" >/dev/null 2>&1
	fi
	stop_dockerd
	ip link del "$DOCKER_BRIDGE" 2>/dev/null
	if [[ -d $work/podman-root ]]; then
		"${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
		"${PODMAN[@]}" rmi -af >/dev/null 2>&1
	fi
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

busybox_rootfs_tar
declare -A CMD=() STATUS=()
names=(berth)
if BERTH=$(berth_bin) && [[ -x $BERTH ]]; then
	CMD[berth]="$BERTH --root $BROOT"
	$BERTH --root "$BROOT" import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >/dev/null ||
		STATUS[berth]="FAILED: import"
else
	BERTH=
	STATUS[berth]="FAILED: no berth binary"
fi
if ((do_docker)); then
	names+=(docker)
	if ! command -v docker >/dev/null; then
		STATUS[docker]="SKIPPED: no docker CLI"
	else
		if [[ -z $docker_host_given ]]; then
			# a bridge of its own: a /16, so 1,000 containers fit
			ip link add "$DOCKER_BRIDGE" type bridge && ip addr add 172.30.0.1/16 dev "$DOCKER_BRIDGE" &&
				ip link set "$DOCKER_BRIDGE" up
			start_dockerd --bridge "$DOCKER_BRIDGE" || STATUS[docker]="FAILED: dockerd did not start"
		fi
		if [[ -z ${STATUS[docker]:-} ]]; then
			docker import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >/dev/null &&
				CMD[docker]=docker || STATUS[docker]="FAILED: import"
		fi
	fi
fi
if ((do_podman)); then
	names+=(podman)
	if ! command -v podman >/dev/null; then
		STATUS[podman]="SKIPPED: no podman"
	elif "${PODMAN[@]}" import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >/dev/null 2>&1; then
		CMD[podman]="${PODMAN[*]}"
	else
		STATUS[podman]="FAILED: import"
	fi
fi

# every container of the engine, removed; prints the seconds it took
remove_all() {
	local name=$1 ids t0 t1
	t0=$(now_ns)
	# shellcheck disable=SC2086 # CMD holds a command line
	ids=$(${CMD[$name]} ps -aq)
	# shellcheck disable=SC2086
	[[ -n $ids ]] && echo "$ids" | xargs -r -n 100 ${CMD[$name]} rm -f >/dev/null 2>&1
	t1=$(now_ns)
	ms_between "$t0" "$t1"
}

# one command, timed: prints ms
timed() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null 2>&1
	t1=$(now_ns)
	ms_between "$t0" "$t1"
}

declare -a ROWS=()
measure() {
	local name=$1 n=$2 i ok=0 t0 t1 m0 m1 p0 p1 pinned pd=0 pid v extra=() start_ms mem ps psa stats rm mon=-
	[[ $name == podman ]] && extra=("${PODMAN_RUN[@]}")
	note "$name: $n x run -d $IMG sleep 100000"
	drop_caches
	m0=$(mem_available_kb) p0=$(pinned_kb)
	t0=$(now_ns)
	for i in $(seq "$n"); do
		# shellcheck disable=SC2086
		${CMD[$name]} run -d "${extra[@]}" "$IMG" sleep 100000 >/dev/null 2>>"$work/$name.err" && ok=$((ok + 1))
	done
	t1=$(now_ns)
	start_ms=$(ms_between "$t0" "$t1" "$n")
	sleep 2
	m1=$(mem_available_kb)
	((ok > 0)) || ok=1
	mem=$(awk -v a="$m0" -v b="$m1" -v n="$ok" 'BEGIN { printf "%.0f", (a - b) / n }')
	if [[ $name == berth ]]; then
		for pid in $(pids_of_root); do
			v=$(awk '/^Private_Dirty:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
			[[ -n $v ]] && pd=$((pd + v))
		done
		mon=$((pd / ok))
		[[ -n ${pid:-} ]] && BREAKDOWN+=("berth N=$n, one monitor's Private_Dirty KiB by mapping: $(monitor_breakdown "$pid")")
	fi
	# shellcheck disable=SC2086
	ps=$(timed ${CMD[$name]} ps)
	# shellcheck disable=SC2086
	psa=$(timed ${CMD[$name]} ps -a)
	# shellcheck disable=SC2086
	stats=$(timed ${CMD[$name]} stats --no-stream)
	# after the timings: the commands above would have read their binaries from disk
	drop_caches
	p1=$(pinned_kb)
	pinned=$(awk -v a="$p0" -v b="$p1" -v n="$ok" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= 5; i++) s += y[i] - x[i]
		printf "%.0f", s / n }')
	BREAKDOWN+=("$name N=$n, pinned KiB per container: $(awk -v a="$p0" -v b="$p1" -v n="$ok" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "anon %.0f, unreclaimable slab %.0f, page tables %.0f, kernel stacks %.0f, shmem %.0f",
			(y[1] - x[1]) / n, (y[2] - x[2]) / n, (y[3] - x[3]) / n, (y[4] - x[4]) / n, (y[5] - x[5]) / n }')")
	note "$name: removing them"
	rm=$(remove_all "$name")
	[[ -s $work/$name.err ]] && note "$name: first errors: $(head -n 2 "$work/$name.err" | tr '\n' ' ')"
	: >"$work/$name.err"
	ROWS+=("$(printf '%-8s %6s %7s %11s %11s %10s %9s %10s %10s %10s' "$name" "$n" "$ok" "$start_ms" "$mem" "$pinned" "$mon" "$ps" "$psa" "$stats")	$(awk -v r="$rm" 'BEGIN { printf "%10.0f", r }')")
}

# Private_Dirty of process $1 by kind of mapping: the executable (its relocated data: the
# binary is executed from a detached mount, so its mappings are named "/"), heap, stack,
# other anonymous memory, shared libraries, other files
monitor_breakdown() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {
			n = $6
			if (n == "") k = "anon"; else if (n == "[heap]") k = "heap"; else if (n == "[stack]") k = "stack"
			else if (n ~ /\.so(\.[0-9]+)*$/) k = "libs"; else if (n == "/" || n ~ /berth(-monitor)?$/) k = "binary"
			else if (n ~ /^\[/) k = "anon"; else k = "files"
		}
		/^Private_Dirty:/ { pd[k] += $2; total += $2 }
		END { printf "binary %d heap %d stack %d anon %d libs %d files %d (total %d)", pd["binary"], pd["heap"], pd["stack"], pd["anon"], pd["libs"], pd["files"], total }' "/proc/$1/smaps" 2>/dev/null
}
BREAKDOWN=()

# KiB of 1 KiB slab objects the kernel allocates to make one memory cgroup on this host now
# (counted with perf's kmem:kmalloc tracepoint; "?" without perf or a memory controller).
# Every engine makes one per container, and what grows is its shrinker map: 1 KiB for every
# 64 superblocks the host ever had at once (the high-water mark never goes down), so a host
# that once ran 1,000 containers pays ~190 KiB per container for ever after, a fresh boot a
# few KiB.
memcg_cost_kb() {
	local d n
	if [[ -d /sys/fs/cgroup/memory ]]; then
		d=/sys/fs/cgroup/memory/berth-density-probe.$$
	elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		d=/sys/fs/cgroup/berth-density-probe.$$
	fi
	if [[ -z ${d:-} ]] || ! command -v perf >/dev/null; then
		echo "?"
		return
	fi
	n=$(perf stat -x, -e kmem:kmalloc --filter 'bytes_alloc==1024' -a -- mkdir "$d" 2>&1 >/dev/null |
		awk -F, '/kmem:kmalloc/ { print $1 }')
	rmdir "$d" 2>/dev/null
	echo "${n:-?}"
}

# page cache and reclaimable slab dropped, so what stays is what the containers hold
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}

# KiB the kernel cannot reclaim, as "anon slab pagetables kstack shmem": anonymous memory,
# unreclaimable slab, page tables, kernel stacks, shmem
pinned_kb() {
	awk '/^AnonPages:/ { a = $2 } /^SUnreclaim:/ { s = $2 } /^PageTables:/ { p = $2 }
		/^KernelStack:/ { k = $2 } /^Shmem:/ { m = $2 } END { print a, s, p, k, m }' /proc/meminfo
}


for name in "${names[@]}"; do
	[[ -n ${STATUS[$name]:-} ]] && continue
	counts=$NS
	[[ $name != berth ]] && counts=$PEERS_NS
	for n in $counts; do measure "$name" "$n"; done
done

echo
echo "idle containers on the default bridge, one run (ms wall clock; memory in KiB per container)"
printf '%-8s %6s %7s %11s %11s %10s %9s %10s %10s %10s %10s\n' engine N started ms/start mem/ctr pinned/ctr monitor ps-ms ps-a-ms stats-ms rm-all-ms
for r in "${ROWS[@]}"; do echo "${r/	/ }"; done
for b in "${BREAKDOWN[@]}"; do echo "$b"; done
echo "this host: making a memory cgroup (one per container, every engine) allocates $(memcg_cost_kb) KiB of kmalloc-1k now"
status=0
for name in "${names[@]}"; do
	[[ -n ${STATUS[$name]:-} ]] || continue
	echo "$name: ${STATUS[$name]}"
	[[ ${STATUS[$name]} == FAILED* ]] && status=1
done
exit "$status"
