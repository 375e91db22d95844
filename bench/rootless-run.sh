#!/usr/bin/env bash
# Rootless berth beside root berth and rootless podman, in one invocation (issue 17):
#   `run --rm --network none IMG true`, RUNS times each (mean ms/run), then N idle
#   `run -d --network none IMG sleep` containers per engine: the summed Pss of the engine's
#   processes (monitors/conmon, pause, the containers' own) per container. Pss rather than
#   MemAvailable: other work on the machine does not leak into it.
# As root: a temporary user with its own subordinate range runs the rootless engines (through
# setpriv) and is removed at the end with its files and processes.
#
# Usage: bench/rootless-run.sh [-r RUNS] [-n N] [--no-podman]
# Environment: BERTH_BIN (default $CARGO_TARGET_DIR or target, debug/berth), WARMUP=2
set -uo pipefail

RUNS=${RUNS:-20}
MANY=${MANY:-100}
WARMUP=${WARMUP:-2}
do_podman=1
while (($#)); do
	case $1 in
	-r) RUNS=$2; shift 2 ;;
	-n) MANY=$2; shift 2 ;;
	--no-podman) do_podman=0; shift ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "rootless-run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
die() { echo "rootless-run.sh: error: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root (it creates the benchmark user)"
command -v newuidmap >/dev/null || die "newuidmap missing: apt-get install -y uidmap"
command -v busybox >/dev/null || die "busybox missing: apt-get install -y busybox-static"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH=${BERTH_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/berth}
[[ -x $BERTH ]] || die "no berth at $BERTH (cargo build -p berth-cli, or set BERTH_BIN)"

user=brbench$$
work=$(mktemp -d /tmp/berth-rootless-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
	local uid
	uid=$(id -u "$user" 2>/dev/null) || true
	if [[ -n $uid ]]; then
		for _ in 1 2 3; do
			for p in /proc/[0-9]*; do
				[[ $(stat -c %u "$p" 2>/dev/null) == "$uid" ]] && kill -9 "${p#/proc/}" 2>/dev/null
			done
			sleep 0.2
		done
		for p in /proc/[0-9]*; do
			u=$(stat -c %u "$p" 2>/dev/null) || continue
			((u >= 3000000 && u < 3065536)) && kill -9 "${p#/proc/}" 2>/dev/null
		done
		userdel -r -f "$user" >/dev/null 2>&1
		rm -rf "/tmp/berth-$uid"
	fi
	if [[ -d $work/root ]]; then
		ids=$("$BERTH" --root "$work/root" ps -aq 2>/dev/null)
		[[ -n $ids ]] && echo "$ids" | xargs -r "$BERTH" --root "$work/root" rm -f >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

useradd -m -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user" || die "useradd"
usermod --add-subuids 3000000-3065535 --add-subgids 3000000-3065535 "$user" || die "usermod"
home=$(getent passwd "$user" | cut -d: -f6)
bin=$work/bin
mkdir -p "$bin" && chmod 755 "$bin"
ln "$BERTH" "$bin/berth" 2>/dev/null || cp "$BERTH" "$bin/berth"
as_user() { setpriv --reuid "$user" --regid "$user" --init-groups -- env -i HOME="$home" PATH=/usr/bin:/bin:/usr/sbin:/sbin "$@"; }

# the busybox rootfs every engine imports
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,tmp}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$work/bb.tar" . && chmod 644 "$work/bb.tar"
as_user "$bin/berth" import - localhost/bb <"$work/bb.tar" >/dev/null || die "rootless import"
"$BERTH" --root "$work/root" import "$work/bb.tar" localhost/bb >/dev/null || die "root import"
if ((do_podman)); then
	as_user podman import - localhost/bb <"$work/bb.tar" >/dev/null 2>&1 || { echo "podman import failed: skipped"; do_podman=0; }
fi

now_ns() { date +%s%N; }
mean_ms() { # command... ; prints the mean ms of RUNS runs after WARMUP
	local i s e
	for ((i = 0; i < WARMUP; i++)); do "$@" >/dev/null 2>&1; done
	s=$(now_ns)
	for ((i = 0; i < RUNS; i++)); do "$@" >/dev/null 2>&1 || { echo FAILED; return; }; done
	e=$(now_ns)
	echo $(((e - s) / RUNS / 1000))e-3 | awk '{printf "%.1f", $1 * 1}'
}
# pids of the rootless user's processes (its own uid and its subordinate range)
user_pids() {
	local uid p u
	uid=$(id -u "$user")
	for p in /proc/[0-9]*; do
		u=$(stat -c %u "$p" 2>/dev/null) || continue
		if [[ $u == "$uid" ]] || ((u >= 3000000 && u < 3065536)); then echo "${p#/proc/}"; fi
	done
}
# pids of root berth's monitors for this root and everything below them
root_pids() {
	local mons
	mons=$(pgrep -f -- "--root $work/root __monitor")
	[[ -n $mons ]] || return
	ps -e -o pid=,ppid= | awk -v m="$mons" 'BEGIN{n=split(m,a,"\n"); for(i=1;i<=n;i++) keep[a[i]]=1}
		{pp[$1]=$2} END{for (p in pp){q=p; while(q>1){if(keep[q]){print p; break} q=pp[q]}}}'
}
pss_kb() { # pids on stdin; summed Pss in kB
	local sum=0 p v
	while read -r p; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) && sum=$((sum + ${v:-0}))
	done
	echo $sum
}
many_kb() { # pid lister, engine command prefix...; N idle containers, prints kB per container
	local lister=$1 before after i
	shift
	before=$($lister | pss_kb)
	for ((i = 0; i < MANY; i++)); do "$@" run -d --network none localhost/bb sleep 100000 >/dev/null 2>&1 || { echo FAILED; return; }; done
	sleep 1
	after=$($lister | pss_kb)
	echo $(((after - before) / MANY))
	"$@" rm -f $("$@" ps -aq) >/dev/null 2>&1
}

printf '%-18s %12s %16s\n' engine "ms/run" "Pss kB/idle ctr"
r1=$(mean_ms as_user "$bin/berth" run --rm --network none localhost/bb true)
m1=$(many_kb user_pids as_user "$bin/berth")
printf '%-18s %12s %16s\n' "berth rootless" "$r1" "$m1"
r2=$(mean_ms "$BERTH" --root "$work/root" run --rm --network none localhost/bb true)
m2=$(many_kb root_pids "$BERTH" --root "$work/root")
printf '%-18s %12s %16s\n' "berth root" "$r2" "$m2"
if ((do_podman)); then
	r3=$(mean_ms as_user podman run --rm --network none localhost/bb true)
	m3=$(many_kb user_pids as_user podman)
	printf '%-18s %12s %16s\n' "podman rootless" "$r3" "$m3"
fi
echo "(RUNS=$RUNS, N=$MANY; berth: $BERTH -- a debug build unless BERTH_BIN says otherwise)"
