#!/usr/bin/env bash
# Per-phase breakdown of `berth run --rm IMG true`, on the default bridge and with
# --network none: the median over RUNS runs of the time between consecutive phase marks
# (BERTH_PHASES=FILE makes the CLI, the monitor and the runtime's processes append
# `PID MONOTONIC_NS NAME` at each mark, see crates/fault), in the order they happen.
# `bench.exec` is taken just before starting berth, `bench.returned` once it has exited.
#
# Usage: bench/run-phases.sh [-r RUNS] [--only-none | --only-bridge]
# Environment: BERTH_BIN (default: the release build, as engine-run.sh), WARMUP=2
set -uo pipefail

RUNS=${RUNS:-15}
WARMUP=${WARMUP:-2}
MODES="bridge none"
while (($#)); do
	case $1 in
	-r) RUNS=$2; shift 2 ;;
	--only-none) MODES=none; shift ;;
	--only-bridge) MODES=bridge; shift ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
trap 'berth_cleanup; remove_work' EXIT
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
	BERTH_PHASES=$f perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e '
		sub mark { open(my $o, ">>", $ENV{BERTH_PHASES}) or die; printf $o "%d %.0f %s\n", $$, clock_gettime(CLOCK_MONOTONIC) * 1e9, $_[0]; close $o }
		open(STDOUT, ">", "/dev/null") or die;
		mark("bench.exec");
		my $rc = system @ARGV;
		mark("bench.returned");
		exit($rc == 0 ? 0 : 1)' "$BERTH" --root "$BROOT" run --rm "$@" "$IMG" true || return 1
}

for mode in $MODES; do
	args=()
	[[ $mode == none ]] && args=(--network none)
	for _ in $(seq "$WARMUP"); do run_marked "$work/warm" "${args[@]}" || die "run failed ($mode)"; done
	for i in $(seq "$RUNS"); do
		run_marked "$work/$mode.$i" "${args[@]}" || die "run failed ($mode)"
	done
	echo
	echo "berth run --rm ${args[*]} $IMG true: median ms per phase over $RUNS runs (step = from the previous mark)"
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
