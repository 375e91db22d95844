#!/usr/bin/env bash
# Per-phase breakdown of `berth run --rm IMG true`, on the default bridge and with
# --network none: the median over RUNS runs of the time between consecutive phase marks
# (BERTH_PHASES=FILE makes the CLI, the monitor and the runtime's processes append
# `PID MONOTONIC_NS NAME` at each mark, see crates/fault), in the order they happen.
# `bench.exec` is taken just before starting berth, `bench.returned` once it has exited.
# With --api, also the docker CLI's `run --rm IMG true` against `berth serve` (its handlers
# mark `api.*`; the server, and the monitors it starts, append to one file, split by run).
#
# Usage: bench/run-phases.sh [-r RUNS] [--only-none | --only-bridge] [--api]
# Environment: BERTH_BIN (default: the release build, as engine-run.sh), WARMUP=2
set -uo pipefail

RUNS=${RUNS:-15}
WARMUP=${WARMUP:-2}
MODES="bridge none"
API=0
while (($#)); do
	case $1 in
	-r) RUNS=$2; shift 2 ;;
	--only-none) MODES=none; shift ;;
	--only-bridge) MODES=bridge; shift ;;
	--api) API=1; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-phases.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

NAME=run-phases.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
[[ $EUID -eq 0 ]] || die "must run as root"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
command -v perl >/dev/null || die "needs perl"

IMG=berth-bench:latest
work=$(mktemp -d /tmp/berth-phases.XXXXXX)
chmod 755 "$work"
BROOT=$work/berth-root
serve_pid=
trap 'berth_cleanup; [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null; remove_work' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

busybox_rootfs_tar
BERTH=$(berth_bin) && [[ -x $BERTH ]] || die "no berth binary"
"$BERTH" --root "$BROOT" import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >/dev/null ||
	die "import failed"

# one run, its marks in $1: one perl process takes bench.exec, runs berth and takes
# bench.returned once it has exited (a second process for the last mark would add its own
# start-up, 10-30 ms here, to the run)
# shellcheck disable=SC2016 # perl code
run_marked() {
	local f=$1
	shift
	: >"$f"
	run_into "$f" "$BERTH" --root "$BROOT" run --rm "$@" "$IMG" true
}

# one run of the command line $2..., its marks appended to $1
# shellcheck disable=SC2016 # perl code
run_into() {
	local f=$1
	shift
	BERTH_PHASES=$f perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e '
		sub mark { open(my $o, ">>", $ENV{BERTH_PHASES}) or die; printf $o "%d %.0f %s\n", $$, clock_gettime(CLOCK_MONOTONIC) * 1e9, $_[0]; close $o }
		open(STDOUT, ">", "/dev/null") or die;
		mark("bench.exec");
		my $rc = system @ARGV;
		mark("bench.returned");
		exit($rc == 0 ? 0 : 1)' "$@" || return 1
}

# the API mode: RUNS runs of the docker CLI against one `berth serve`, whose marks (and its
# monitors') all go to one file; split into one file a run at each bench.exec
api_runs() {
	command -v docker >/dev/null || die "--api needs the docker CLI"
	local all=$work/api.all sock=$work/api.sock
	: >"$all"
	BERTH_PHASES=$all "$BERTH" --root "$BROOT" serve -H "unix://$sock" 2>"$work/serve.log" &
	serve_pid=$!
	disown
	for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
	local cmd=(docker -H "unix://$sock" run --rm "$IMG" true)
	for _ in $(seq "$WARMUP"); do "${cmd[@]}" >/dev/null || die "run failed (api)"; done
	sleep 0.1
	: >"$all"
	for _ in $(seq "$RUNS"); do
		run_into "$all" "${cmd[@]}" || die "run failed (api)"
		# (the last run's monitor clears its leftovers after the answer: not into this run)
		sleep 0.05
	done
	sleep 0.2
	sort -k2,2n "$all" | awk -v dir="$work" '$3 == "bench.exec" { n++ } n { print > (dir "/api." n) }'
}

((API)) && MODES="$MODES api"
for mode in $MODES; do
	args=()
	[[ $mode == none ]] && args=(--network none)
	if [[ $mode == api ]]; then
		api_runs
	else
		for _ in $(seq "$WARMUP"); do run_marked "$work/warm" "${args[@]}" || die "run failed ($mode)"; done
		for i in $(seq "$RUNS"); do
			run_marked "$work/$mode.$i" "${args[@]}" || die "run failed ($mode)"
		done
	fi
	echo
	if [[ $mode == api ]]; then
		echo "docker run --rm $IMG true -> berth serve: median ms per phase over $RUNS runs (step = from the previous mark)"
	else
		echo "berth run --rm ${args[*]} $IMG true: median ms per phase over $RUNS runs (step = from the previous mark)"
	fi
	for i in $(seq "$RUNS"); do
		# the marks up to bench.returned (the monitor's own exit comes after), in time order
		sort -k2,2n "$work/$mode.$i" | awk -v run="$i" '
			NR == 1 { t0 = $2; prev = $2; pname = $3; next }
			done { next }
			{ printf "%s %d %s %.3f\n", run, NR, pname "->" $3, ($2 - prev) / 1e6; prev = $2; pname = $3 }
			$3 == "bench.returned" { printf "%s %d %s %.3f\n", run, NR + 1, "TOTAL", ($2 - t0) / 1e6; done = 1 }'
	done | awk '
		{ key = $3; v[key] = v[key] " " $4; if (!(key in pos)) { pos[key] = $2; order[++n] = key } }
		END {
			for (k = 1; k <= n; k++) {
				key = order[k]; m = split(substr(v[key], 2), a, " ")
				for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
				med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
				printf "  %-58s %8.2f ms  (%d runs)\n", key, med, m
			}
		}'
done
