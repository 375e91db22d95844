# shellcheck shell=bash
# What the engine benchmarks share (sourced, not run). The caller sets:
#   NAME  the script's name for messages      repo  the repository root
#   work  its temporary directory             BROOT berth's state root (for pids_of_root)

note() { echo "==> $*" >&2; }
die() {
	echo "$NAME: error: $*" >&2
	exit 1
}

if perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e1 2>/dev/null; then
	now_ns() { perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e 'printf "%.0f\n", clock_gettime(CLOCK_MONOTONIC)*1e9'; }
else
	now_ns() { python3 -c 'import time; print(time.monotonic_ns())'; }
fi

# milliseconds between two now_ns readings, divided by N (default 1), one decimal
ms_between() { awk -v a="$1" -v b="$2" -v n="${3:-1}" 'BEGIN { printf "%.1f", (b - a) / n / 1e6 }'; }

mem_available_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }

# $work/rootfs.tar: the busybox-static rootfs the e2e suite builds
busybox_rootfs_tar() {
	local rootfs=$work/rootfs a
	note "building the busybox rootfs tarball in $work"
	command -v busybox >/dev/null || die "busybox not found: apt-get install -y busybox-static"
	mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,root,home/app}
	chmod 1777 "$rootfs/tmp"
	cp "$(command -v busybox)" "$rootfs/bin/busybox"
	for a in $(busybox --list); do
		[[ $a == busybox ]] || ln -sf busybox "$rootfs/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
	tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" . || die "tar failed"
}

# the berth binary: $BERTH_BIN, else the release build (built if missing)
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
		note "building berth: scripts/build-release.sh (target dir $target)"
		"$repo/scripts/build-release.sh" >"$work/berth-build.log" 2>&1 || {
			tail -n 15 "$work/berth-build.log" | sed 's/^/    build: /' >&2
			return 1
		}
	fi
	echo "$target/release/berth"
}

# a private dockerd on $work (extra dockerd flags as arguments); sets own_dockerd_pid and
# DOCKER_HOST
start_dockerd() {
	command -v dockerd >/dev/null || return 1
	note "starting a private dockerd (data root $work/docker)"
	dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
		--pidfile "$work/docker.pid" "$@" >"$work/dockerd.log" 2>&1 &
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

stop_dockerd() {
	[[ -n ${own_dockerd_pid:-} ]] || return 0
	kill "$own_dockerd_pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$own_dockerd_pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$own_dockerd_pid" 2>/dev/null
}

# pids whose command line mentions the berth root (monitors, build steps)
pids_of_root() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$BROOT" && echo "$pid"
	done
}

# remove every container of berth's root, its default bridge, and what it left running
berth_cleanup() {
	local ids pid
	[[ -n ${BERTH:-} && -d $BROOT ]] || return 0
	ids=$("$BERTH" --root "$BROOT" ps -aq 2>/dev/null)
	[[ -n $ids ]] && echo "$ids" | xargs -r -n 50 "$BERTH" --root "$BROOT" rm -f >/dev/null 2>&1
	"$BERTH" --root "$BROOT" network prune -f >/dev/null 2>&1
	for pid in $(pids_of_root); do kill -9 "$pid" 2>/dev/null; done
}

# unmount what is left under $work, then remove it
remove_work() {
	local mp
	while read -r mp; do
		umount -l "$mp" 2>/dev/null || true
	done < <(awk -v w="$work" 'index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	if awk -v w="$work" 'index($5, w "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		echo "$NAME: warning: mounts remain under $work, not removing it" >&2
	else
		rm -rf --one-file-system "$work"
	fi
}
