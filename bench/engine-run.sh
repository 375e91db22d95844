#!/usr/bin/env bash
# Side-by-side container start benchmark of the docker-compatible engines on
# one locally built busybox image (no registry):
#   berth run --rm IMG true   vs   docker run --rm IMG true   vs   podman run --rm IMG true
#   and the docker CLI against `berth serve` (engine "berth-api": the same docker CLI as the
#   docker row, so the two compare the daemons)
# (Many idle containers: bench/density.sh.)
#
# Usage: bench/engine-run.sh [-r RUNS] [--no-docker] [--no-podman] [--no-api]
#   -r RUNS         timed `run --rm IMG true` per engine (default 20; env RUNS)
#   --no-docker     skip docker        --no-podman   skip podman
#   --no-api        skip the docker CLI against berth serve
# Environment:
#   BERTH_BIN=...        berth binary to use (default $CARGO_TARGET_DIR/release/berth,
#                        built with scripts/build-release.sh if missing)
#   CARGO_TARGET_DIR=... honoured when looking for / building berth
#   DOCKER_HOST=...      use this docker daemon; otherwise a private dockerd is started
#                        with a temp data root and stopped at the end
#   WARMUP=2             untimed runs per engine
set -uo pipefail

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-2}
do_docker=1 do_podman=1 do_api=1
while (($#)); do
	case $1 in
	-r) RUNS=$2; shift 2 ;;
	--no-docker) do_docker=0; shift ;;
	--no-podman) do_podman=0; shift ;;
	--no-api) do_api=0; shift ;;
	-h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "engine-run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

NAME=engine-run.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
IMG=berth-bench:latest

[[ $EUID -eq 0 ]] || die "must run as root"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"

work=$(mktemp -d /tmp/berth-engine-bench.XXXXXX)
chmod 755 "$work"
BROOT=$work/berth-root
own_dockerd_pid=
serve_pid=
docker_host_given=${DOCKER_HOST:-}
PODMAN=(podman --root "$work/podman-root" --runroot "$work/podman-run")

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	berth_cleanup
	if [[ -n $serve_pid ]]; then
		kill "$serve_pid" 2>/dev/null
		wait "$serve_pid" 2>/dev/null
	fi
	if ((do_docker)) && [[ -n ${DOCKER_HOST:-} ]] && docker info >/dev/null 2>&1; then
		docker rmi -f "$IMG" >/dev/null 2>&1
	fi
	stop_dockerd
	if ((do_podman)) && [[ -d $work/podman-root ]]; then
		"${PODMAN[@]}" rm -af >/dev/null 2>&1
		"${PODMAN[@]}" rmi -af >/dev/null 2>&1
	fi
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

busybox_rootfs_tar

# --- engines -----------------------------------------------------------------------
declare -A STATUS=() MSRUN=() CMD=()
names=()

names+=(berth)
if BERTH=$(berth_bin) && [[ -x $BERTH ]]; then
	CMD[berth]="$BERTH --root $BROOT"
	if ! $BERTH --root "$BROOT" import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >"$work/berth-import.log" 2>&1; then
		STATUS[berth]="FAILED: import: $(tail -n 1 "$work/berth-import.log")"
	fi
else
	BERTH=
	STATUS[berth]="FAILED: no berth binary"
fi

if ((do_docker)); then
	names+=(docker)
	if ! command -v docker >/dev/null; then
		STATUS[docker]="SKIPPED: no docker CLI (apt-get install -y docker.io)"
	elif [[ -z $docker_host_given ]] && ! start_dockerd; then
		STATUS[docker]="FAILED: dockerd did not start (see its log above)"
	elif ! docker import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >"$work/docker-import.log" 2>&1; then
		STATUS[docker]="FAILED: import: $(tail -n 1 "$work/docker-import.log")"
	else
		CMD[docker]="docker"
	fi
fi

if ((do_podman)); then
	names+=(podman)
	if ! command -v podman >/dev/null; then
		STATUS[podman]="SKIPPED: no podman"
	elif ! "${PODMAN[@]}" import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >"$work/podman-import.log" 2>&1; then
		STATUS[podman]="FAILED: import: $(tail -n 1 "$work/podman-import.log")"
	else
		CMD[podman]="${PODMAN[*]}"
	fi
fi

if ((do_api)); then
	names+=(berth-api)
	if ! command -v docker >/dev/null; then
		STATUS[berth-api]="SKIPPED: no docker CLI (apt-get install -y docker.io)"
	elif [[ -z $BERTH ]]; then
		STATUS[berth-api]="FAILED: no berth binary"
	else
		"$BERTH" --root "$BROOT" serve -H "unix://$work/berth.sock" 2>"$work/serve.log" &
		serve_pid=$!
		for _ in $(seq 100); do [[ -S $work/berth.sock ]] && break; sleep 0.05; done
		if DOCKER_HOST=unix://$work/berth.sock docker version >/dev/null 2>&1; then
			CMD[berth-api]="docker -H unix://$work/berth.sock"
		else
			STATUS[berth-api]="FAILED: berth serve did not answer: $(tail -n 1 "$work/serve.log")"
		fi
	fi
fi

# `run --rm IMG true` for one engine; podman on this host needs explicit
# ulimits (it lacks CAP_SYS_RESOURCE to raise them to podman's defaults).
run_true() {
	local name=$1
	# shellcheck disable=SC2086 # CMD holds a command line
	case $name in
	podman) ${CMD[$name]} run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMG" true ;;
	*) ${CMD[$name]} run --rm "$IMG" true ;;
	esac
}

for name in "${names[@]}"; do
	[[ -n ${STATUS[$name]:-} ]] && continue
	note "$name: sanity run"
	if ! out=$(run_true "$name" 2>&1); then
		STATUS[$name]="FAILED: run --rm $IMG true: $(echo "$out" | tail -n 1)"
		continue
	fi
	for _ in $(seq "$WARMUP"); do run_true "$name" >/dev/null 2>&1; done
	note "$name: $RUNS x run --rm $IMG true"
	fails=0
	t0=$(now_ns)
	for _ in $(seq "$RUNS"); do
		run_true "$name" >/dev/null 2>&1 || fails=$((fails + 1))
	done
	t1=$(now_ns)
	if ((fails)); then
		STATUS[$name]="FAILED: $fails of $RUNS runs failed"
		continue
	fi
	MSRUN[$name]=$(awk -v a="$t0" -v b="$t1" -v n="$RUNS" 'BEGIN { printf "%.1f", (b - a) / n / 1e6 }')
	STATUS[$name]=ok
done

echo
echo "run --rm $IMG true, $RUNS runs each (wall clock per run; ratio = engine / berth)"
printf '%-10s %12s %10s  %s\n' engine ms/run ratio status
for name in "${names[@]}"; do
	ms=${MSRUN[$name]:-}
	ratio=-
	if [[ -n $ms && -n ${MSRUN[berth]:-} ]]; then
		ratio=$(awk -v a="$ms" -v b="${MSRUN[berth]}" 'BEGIN { printf "%.2fx", a / b }')
	fi
	printf '%-10s %12s %10s  %s\n' "$name" "${ms:--}" "$ratio" "${STATUS[$name]}"
done
