#!/usr/bin/env bash
# Side-by-side container start benchmark of the docker-compatible engines on
# one locally built busybox image (no registry):
#   berth run --rm IMG true   vs   docker run --rm IMG true   vs   podman run --rm IMG true
#   and the docker CLI against `berth serve` (engine "berth-api": the same docker CLI as the
#   docker row, so the two compare the daemons)
# then many detached containers with berth (`run -d IMG sleep 100000` x N):
# total time, host memory per container, berth monitor memory per container.
#
# Usage: bench/engine-run.sh [-r RUNS] [-n N] [--no-docker] [--no-podman] [--no-api] [--no-many] [--many-docker]
#   -r RUNS         timed `run --rm IMG true` per engine (default 20; env RUNS)
#   -n N            containers in the many-containers part (default 500; env MANY)
#   --no-docker     skip docker        --no-podman   skip podman
#   --no-api        skip the docker CLI against berth serve
#   --no-many       skip the many-containers part
#   --many-docker   also run the many-containers part against docker (off by default)
# Environment:
#   BERTH_BIN=...        berth binary to use (default $CARGO_TARGET_DIR/release/berth,
#                        built with `cargo build --release -p berth-cli` if missing)
#   CARGO_TARGET_DIR=... honoured when looking for / building berth
#   DOCKER_HOST=...      use this docker daemon; otherwise a private dockerd is started
#                        with a temp data root and stopped at the end
#   WARMUP=2             untimed runs per engine
set -uo pipefail

RUNS=${RUNS:-20}
MANY=${MANY:-500}
WARMUP=${WARMUP:-2}
do_docker=1 do_podman=1 do_api=1 do_many=1 many_docker=0
while (($#)); do
	case $1 in
	-r) RUNS=$2; shift 2 ;;
	-n) MANY=$2; shift 2 ;;
	--no-docker) do_docker=0; shift ;;
	--no-podman) do_podman=0; shift ;;
	--no-api) do_api=0; shift ;;
	--no-many) do_many=0; shift ;;
	--many-docker) many_docker=1; shift ;;
	-h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "engine-run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMG=berth-bench:latest

note() { echo "==> $*" >&2; }
die() {
	echo "engine-run.sh: error: $*" >&2
	exit 1
}

[[ $EUID -eq 0 ]] || die "must run as root"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $MANY =~ ^[1-9][0-9]*$ ]] || die "-n must be a positive integer"
command -v busybox >/dev/null || die "busybox not found: apt-get install -y busybox-static"

if perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e1 2>/dev/null; then
	now_ns() { perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e 'printf "%.0f\n", clock_gettime(CLOCK_MONOTONIC)*1e9'; }
else
	now_ns() { python3 -c 'import time; print(time.monotonic_ns())'; }
fi

work=$(mktemp -d /tmp/berth-engine-bench.XXXXXX)
chmod 755 "$work"
BROOT=$work/berth-root
own_dockerd_pid=
serve_pid=
docker_host_given=${DOCKER_HOST:-}
PODMAN=(podman --root "$work/podman-root" --runroot "$work/podman-run")

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	local mp pid ids
	if [[ -n ${BERTH:-} && -d $BROOT ]]; then
		ids=$("$BERTH" --root "$BROOT" ps -aq 2>/dev/null)
		[[ -n $ids ]] && echo "$ids" | xargs -r -n 50 "$BERTH" --root "$BROOT" rm -f >/dev/null 2>&1
		# this root's own default bridge and its firewall rules
		"$BERTH" --root "$BROOT" network prune -f >/dev/null 2>&1
		# monitors or anything else berth left behind for this root
		for pid in $(pids_of_root); do kill -9 "$pid" 2>/dev/null; done
	fi
	if [[ -n $serve_pid ]]; then
		kill "$serve_pid" 2>/dev/null
		wait "$serve_pid" 2>/dev/null
	fi
	if ((do_docker)) && [[ -n ${DOCKER_HOST:-} ]] && docker info >/dev/null 2>&1; then
		ids=$(docker ps -aq --filter name=berth-bench-)
		[[ -n $ids ]] && echo "$ids" | xargs -r -n 50 docker rm -f >/dev/null 2>&1
		docker rmi -f "$IMG" >/dev/null 2>&1
	fi
	if [[ -n $own_dockerd_pid ]]; then
		kill "$own_dockerd_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$own_dockerd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$own_dockerd_pid" 2>/dev/null
	fi
	if ((do_podman)) && [[ -d $work/podman-root ]]; then
		"${PODMAN[@]}" rm -af >/dev/null 2>&1
		"${PODMAN[@]}" rmi -af >/dev/null 2>&1
	fi
	while read -r mp; do
		umount -l "$mp" 2>/dev/null || true
	done < <(awk -v w="$work" 'index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	if awk -v w="$work" 'index($5, w "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		echo "engine-run.sh: warning: mounts remain under $work, not removing it" >&2
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pids whose command line mentions the berth root (the per-container monitors)
pids_of_root() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$BROOT" && echo "$pid"
	done
}

# --- the image: busybox-static rootfs, as the e2e suite builds it -------------------
note "building the busybox rootfs tarball in $work"
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,root,home/app}
chmod 1777 "$rootfs/tmp"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $(busybox --list); do
	[[ $a == busybox ]] || ln -sf busybox "$rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" . || die "tar failed"

# --- engines -----------------------------------------------------------------------
declare -A STATUS=() MSRUN=() CMD=()
names=()

berth_bin() {
	if [[ -n ${BERTH_BIN:-} ]]; then
		echo "$BERTH_BIN"
		return
	fi
	local target=${CARGO_TARGET_DIR:-target}
	[[ $target == /* ]] || target=$repo/$target
	if [[ ! -x $target/release/berth ]]; then
		if ! command -v cargo >/dev/null && [[ -f $HOME/.cargo/env ]]; then
			# shellcheck disable=SC1091
			. "$HOME/.cargo/env"
		fi
		note "building berth: cargo build --release -p berth-cli (target dir $target)"
		(cd "$repo" && cargo build --release -p berth-cli) >"$work/berth-build.log" 2>&1 || {
			tail -n 15 "$work/berth-build.log" | sed 's/^/    build: /' >&2
			return 1
		}
	fi
	echo "$target/release/berth"
}

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

start_dockerd() {
	command -v dockerd >/dev/null || return 1
	note "starting a private dockerd (data root $work/docker)"
	dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
		--pidfile "$work/docker.pid" >"$work/dockerd.log" 2>&1 &
	own_dockerd_pid=$!
	export DOCKER_HOST=unix://$work/docker.sock
	for _ in $(seq 150); do
		docker info >/dev/null 2>&1 && return 0
		kill -0 "$own_dockerd_pid" 2>/dev/null || break
		sleep 0.2
	done
	tail -n 5 "$work/dockerd.log" | sed 's/^/    dockerd: /' >&2
	return 1
}

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

# --- many detached containers ------------------------------------------------------
mem_available_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }

many() {
	local name=$1 i ok=0 t0 t1 m0 m1 ids pd=0 pid n_mon=0 v
	note "$name: starting $MANY x run -d $IMG sleep 100000"
	sync
	echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
	m0=$(mem_available_kb)
	t0=$(now_ns)
	for i in $(seq "$MANY"); do
		# shellcheck disable=SC2086
		${CMD[$name]} run -d --name "berth-bench-$i" "$IMG" sleep 100000 >/dev/null 2>>"$work/many-$name.err" && ok=$((ok + 1))
	done
	t1=$(now_ns)
	sleep 2
	m1=$(mem_available_kb)
	echo
	echo "$name: $ok of $MANY containers started in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') s" \
		"($(awk -v a="$t0" -v b="$t1" -v n="$MANY" 'BEGIN { printf "%.1f", (b - a) / n / 1e6 }') ms each)"
	((ok < MANY)) && echo "  first errors: $(head -n 3 "$work/many-$name.err" | tr '\n' ' ')"
	((ok > 0)) || ok=1
	echo "  host memory per running container (MemAvailable delta / $ok): $(awk -v a="$m0" -v b="$m1" -v n="$ok" 'BEGIN { printf "%.1f KiB", (a - b) / n }')"
	if [[ $name == berth ]]; then
		for pid in $(pids_of_root); do
			v=$(awk '/^Private_Dirty:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
			[[ -n $v ]] || continue
			pd=$((pd + v))
			n_mon=$((n_mon + 1))
		done
		echo "  berth monitor processes: $n_mon, Private_Dirty sum $pd KiB," \
			"$(awk -v a="$pd" -v n="$n_mon" 'BEGIN { printf "%.1f KiB", a / (n ? n : 1) }') per container"
	fi
	note "$name: removing them"
	t0=$(now_ns)
	# shellcheck disable=SC2086
	ids=$(${CMD[$name]} ps -aq --filter name=berth-bench-)
	# shellcheck disable=SC2086
	[[ -n $ids ]] && echo "$ids" | xargs -r -n 50 ${CMD[$name]} rm -f >/dev/null 2>&1
	t1=$(now_ns)
	echo "  removed in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') s"
}

if ((do_many)); then
	if [[ ${STATUS[berth]} == ok ]]; then
		many berth
	else
		echo "many containers: berth not usable (${STATUS[berth]})"
	fi
	if ((many_docker)) && [[ ${STATUS[docker]:-} == ok ]]; then
		many docker
	fi
fi
