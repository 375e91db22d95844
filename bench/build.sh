#!/usr/bin/env bash
# Side-by-side image build benchmark, no registry:
#   berth build   vs   docker build (legacy builder, DOCKER_BUILDKIT=0)   vs   dockerd's BuildKit
#   (Debian's docker 20.10 client, DOCKER_BUILDKIT=1)   vs   buildah bud --layers
# on the same Dockerfiles (the e2e suite's fixtures), each built cold (the first
# build on a freshly imported base image) and then again unchanged (all cache hits):
#   small       tests/build-fixtures/cache       10 steps: ENV, RUN x4, LABEL, COPY x2, CMD
#   multistage  tests/build-fixtures/multistage  --target final: a 30 MB "toolchain"
#               stage, then COPY --from of one artifact
#   buildkit    tests/build-fixtures/buildkit    two independent stages (short real work) and a RUN
#               cache mount (not for the legacy builder, which has neither)
# The base image is the e2e suite's busybox rootfs (Debian's busybox-static), imported
# into each engine; every Dockerfile starts `ARG BASE` / `FROM ${BASE}`.
# Targets (issue 7): berth cold <= half of docker's time, berth cached <= 100 ms;
# (issue 19): berth cold and cached <= 0.3x BuildKit's.
#
# Usage: bench/build.sh [-r ROUNDS] [--no-docker] [--no-buildkit] [--no-buildah]
#   -r ROUNDS   rounds (default 1): each round builds every case cold, then cached, with
#               the engines in turn (their order alternating); before each round after the
#               first, the engine's build cache and built images are removed (the base
#               stays). The table gives each figure's median over the rounds.
# Environment:
#   BERTH_BIN=...        berth binary to use (default $CARGO_TARGET_DIR/release/berth,
#                        built with scripts/build-release.sh if missing)
#   CARGO_TARGET_DIR=... honoured when looking for / building berth
#   DOCKER_HOST=...      use this docker daemon; otherwise a private dockerd is started
#                        (temp data root, no bridge, no iptables) and stopped at the end
#   BUILDAH_DRIVER=overlay  buildah storage driver (overlay, else vfs)
set -uo pipefail

do_docker=1 do_buildkit=1 do_buildah=1 ROUNDS=1
while (($#)); do
	case $1 in
	-r) ROUNDS=$2; shift 2 ;;
	--no-docker) do_docker=0; shift ;;
	--no-buildkit) do_buildkit=0; shift ;;
	--no-buildah) do_buildah=0; shift ;;
	-h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

NAME=build.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
IMG=berth-bench-base:latest
CASES=(small multistage buildkit)
declare -A FIXTURE=([small]=cache [multistage]=multistage [buildkit]=buildkit)
declare -A EXTRA=([small]="" [multistage]="--target final" [buildkit]="")
declare -A DESC=([small]="small (10 steps)" [multistage]="multi-stage" [buildkit]="buildkit features")
# what an engine cannot build: the legacy builder has no RUN --mount
declare -A UNSUPPORTED=([docker,buildkit]=1)

[[ $EUID -eq 0 ]] || die "must run as root"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

work=$(mktemp -d /tmp/berth-build-bench.XXXXXX)
chmod 755 "$work"
BROOT=$work/berth-root
own_dockerd_pid=
docker_host_given=${DOCKER_HOST:-}
BUILDAH_DRIVER=${BUILDAH_DRIVER:-overlay}
# the private dockerd's own bridge (never --bridge=none: that deletes a docker0 others use)
DOCKER_BRIDGE=bbuild0
private_bridge() {
	ip link add "$DOCKER_BRIDGE" type bridge && ip addr add 172.29.0.1/24 dev "$DOCKER_BRIDGE" &&
		ip link set "$DOCKER_BRIDGE" up
}
buildah_cmd() { buildah --root "$work/buildah-root" --runroot "$work/buildah-run" --storage-driver "$BUILDAH_DRIVER" "$@"; }

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	local c
	berth_cleanup
	if ((do_docker || do_buildkit)) && [[ -n ${DOCKER_HOST:-} ]] && docker info >/dev/null 2>&1; then
		for c in "${CASES[@]}"; do docker rmi -f "berth-bench-$c:latest" >/dev/null 2>&1; done
		docker rmi -f "$IMG" >/dev/null 2>&1
	fi
	stop_dockerd
	ip link del "$DOCKER_BRIDGE" 2>/dev/null
	if ((do_buildah)) && [[ -d $work/buildah-root ]]; then
		buildah_cmd rm -a >/dev/null 2>&1
		buildah_cmd rmi -a -f >/dev/null 2>&1
	fi
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

busybox_rootfs_tar

# one private copy of each build context per engine (so no engine sees another's files)
contexts() {
	local name=$1 c
	for c in "${CASES[@]}"; do
		cp -a "$repo/tests/build-fixtures/${FIXTURE[$c]}" "$work/ctx-$name-$c" || return 1
	done
}

# --- engines -----------------------------------------------------------------------
declare -A STATUS=() CMD=() MS=()
ERR=
names=()

names+=(berth)
if BERTH=$(berth_bin) && [[ -x $BERTH ]]; then
	CMD[berth]="$BERTH --root $BROOT build"
	if ! $BERTH --root "$BROOT" import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >"$work/berth-import.log" 2>&1; then
		STATUS[berth]="FAILED: import: $(tail -n 1 "$work/berth-import.log")"
	fi
else
	BERTH=
	STATUS[berth]="FAILED: no berth binary"
fi

docker_ready=
if ((do_docker || do_buildkit)); then
	if ! command -v docker >/dev/null; then
		docker_ready="SKIPPED: no docker CLI (apt-get install -y docker.io)"
	elif [[ -z $docker_host_given ]] && ! { private_bridge && start_dockerd --bridge "$DOCKER_BRIDGE" --iptables=false --ip-masq=false; }; then
		docker_ready="FAILED: dockerd did not start (see its log above)"
	elif ! docker import --change 'CMD ["sh"]' "$work/rootfs.tar" "$IMG" >"$work/docker-import.log" 2>&1; then
		docker_ready="FAILED: import: $(tail -n 1 "$work/docker-import.log")"
	fi
fi
if ((do_docker)); then
	names+=(docker)
	[[ -n $docker_ready ]] && STATUS[docker]=$docker_ready
	CMD[docker]="env DOCKER_BUILDKIT=0 docker build"
fi
if ((do_buildkit)); then
	# BuildKit through the docker 20.10 client (newer clients need the buildx plugin)
	names+=(buildkit)
	if [[ -n $docker_ready ]]; then
		STATUS[buildkit]=$docker_ready
	elif [[ ! -x /usr/bin/docker ]]; then
		STATUS[buildkit]="SKIPPED: no /usr/bin/docker (Debian's docker.io 20.10 client)"
	fi
	CMD[buildkit]="env DOCKER_BUILDKIT=1 /usr/bin/docker build --progress=plain"
fi

# buildah has no `import`: the base image is committed from scratch with the same
# rootfs tarball ADDed at / (no registry, no network)
buildah_import() {
	local c
	c=$(buildah_cmd from scratch) || return 1
	buildah_cmd add "$c" "$work/rootfs.tar" / >/dev/null &&
		buildah_cmd config --cmd sh "$c" &&
		buildah_cmd commit -q "$c" "$IMG" >/dev/null
	local rc=$?
	buildah_cmd rm "$c" >/dev/null 2>&1
	return $rc
}

if ((do_buildah)); then
	names+=(buildah)
	if ! command -v buildah >/dev/null; then
		STATUS[buildah]="SKIPPED: no buildah (apt-get install -y buildah)"
	else
		if ! buildah_import >"$work/buildah-import.log" 2>&1 && [[ $BUILDAH_DRIVER != vfs ]]; then
			note "buildah: storage driver $BUILDAH_DRIVER failed, trying vfs"
			buildah_cmd rmi -a -f >/dev/null 2>&1
			rm -rf "$work/buildah-root" "$work/buildah-run"
			BUILDAH_DRIVER=vfs
			buildah_import >"$work/buildah-import.log" 2>&1
		fi
		if buildah_cmd inspect --type image "$IMG" >/dev/null 2>&1; then
			CMD[buildah]="buildah --root $work/buildah-root --runroot $work/buildah-run --storage-driver $BUILDAH_DRIVER bud --layers"
		else
			STATUS[buildah]="FAILED: import: $(tail -n 1 "$work/buildah-import.log")"
		fi
	fi
fi

# one timed build: appends its ms to MS[$name,$case,$phase], or sets ERR and returns 1
timed_build() {
	local name=$1 c=$2 phase=$3 t0 t1 log=$work/$1-$2-$3.log
	t0=$(now_ns)
	# shellcheck disable=SC2086 # CMD and EXTRA hold argument lists
	${CMD[$name]} --build-arg "BASE=$IMG" ${EXTRA[$c]} -t "berth-bench-$c:latest" "$work/ctx-$name-$c" >"$log" 2>&1
	local rc=$?
	t1=$(now_ns)
	if ((rc != 0)); then
		ERR="$phase build of $c failed (exit $rc): $(grep -v '^ *$' "$log" | tail -n 1)"
		return 1
	fi
	MS[$name,$c,$phase]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) / 1e6 }') "
}

# back to cold: the engine's build cache (cache mounts included) and the built images go,
# the base image stays
forget_builds() {
	local name=$1 c
	case $name in
	berth)
		$BERTH --root "$BROOT" builder prune -a -f
		for c in "${CASES[@]}"; do $BERTH --root "$BROOT" rmi -f "berth-bench-$c:latest"; done
		;;
	docker | buildkit)
		for c in "${CASES[@]}"; do docker rmi -f "berth-bench-$c:latest"; done
		docker image prune -f
		docker builder prune -a -f
		;;
	buildah)
		for c in "${CASES[@]}"; do buildah_cmd rmi -f "berth-bench-$c:latest"; done
		buildah_cmd rmi --prune
		;;
	esac
}

# one round of one engine: every case cold, then cached
round() {
	local name=$1 c
	for c in "${CASES[@]}"; do
		[[ -n ${UNSUPPORTED[$name,$c]:-} ]] && continue
		note "$name: ${DESC[$c]}: cold build, then cached"
		if ! timed_build "$name" "$c" cold || ! timed_build "$name" "$c" cached; then
			STATUS[$name]="FAILED: $ERR"
			return 1
		fi
		# the cached build must not have re-run anything
		if [[ $name != buildah ]] && grep -q -e '---> Running in' "$work/$name-$c-cached.log"; then
			STATUS[$name]="WARNING: cached build of $c re-ran steps"
		fi
	done
}

for name in "${names[@]}"; do
	[[ -n ${STATUS[$name]:-} ]] && continue
	contexts "$name" || { STATUS[$name]="FAILED: cannot copy the fixtures"; continue; }
	STATUS[$name]=ok
done
order=("${names[@]}")
for ((r = 1; r <= ROUNDS; r++)); do
	((ROUNDS > 1)) && note "round $r of $ROUNDS"
	for name in "${order[@]}"; do
		[[ ${STATUS[$name]:-} == ok || ${STATUS[$name]:-} == WARNING* ]] || continue
		((r > 1)) && forget_builds "$name" >/dev/null 2>&1
		round "$name"
	done
	# the next round in the other order, so neither engine always goes first
	mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
done

# the median of a space-separated list of numbers
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for key in "${!MS[@]}"; do
	((ROUNDS > 1)) && note "${key//,/ }: ${MS[$key]}ms"
	MS[$key]=$(median "${MS[$key]}")
done

echo
echo "$ROUNDS round(s), median ms wall clock; ratio = engine / berth (targets: berth cold <= 0.5x docker, cached <= 100 ms, both <= 0.3x buildkit)"
printf '%-18s %-8s %10s %8s %10s %8s  %s\n' build engine cold-ms ratio cached-ms ratio status
for c in "${CASES[@]}"; do
	for name in "${names[@]}"; do
		row=()
		for phase in cold cached; do
			ms=${MS[$name,$c,$phase]:-}
			ratio=-
			if [[ -n $ms && -n ${MS[berth,$c,$phase]:-} && ${MS[berth,$c,$phase]} -gt 0 ]]; then
				ratio=$(awk -v a="$ms" -v b="${MS[berth,$c,$phase]}" 'BEGIN { printf "%.2fx", a / b }')
			fi
			row+=("${ms:--}" "$ratio")
		done
		st=${STATUS[$name]}
		[[ -n ${UNSUPPORTED[$name,$c]:-} ]] && st="n/a (no RUN --mount in the legacy builder)"
		printf '%-18s %-8s %10s %8s %10s %8s  %s\n' "${DESC[$c]}" "$name" "${row[@]}" "$st"
	done
done
