#!/usr/bin/env bash
# Create an OCI bundle from the host's busybox-static.
#
#   scripts/busybox-bundle.sh DIR [-- ARGS...]
#
# DIR/rootfs gets /bin/busybox plus one symlink per applet, the usual top-level
# directories and an /etc/passwd + /etc/group with root (0) and user (1000).
# DIR/config.json is written by this script (no runc needed) with `runc spec`
# style defaults: process.args = ARGS (default: sh), terminal false, no
# linux.resources, no cgroupsPath, pid/network/ipc/uts/mount namespaces, the
# standard runc mounts, maskedPaths and readonlyPaths and Docker's default
# capability set.
#
# Environment: BUSYBOX=/path/to/static/busybox overrides the binary to use.
set -euo pipefail

prog=${0##*/}

usage() {
	echo "usage: $prog DIR [-- ARGS...]" >&2
	exit 2
}

die() {
	echo "$prog: error: $*" >&2
	exit 1
}

[[ $# -ge 1 ]] || usage
case $1 in -h | --help) usage ;; esac
dir=$1
shift
if [[ $# -gt 0 ]]; then
	[[ $1 == -- ]] || usage
	shift
fi
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(sh)

# --- find a static busybox ---------------------------------------------------
busybox=${BUSYBOX:-}
if [[ -z $busybox ]]; then
	for candidate in /bin/busybox /usr/bin/busybox; do
		if [[ -x $candidate ]]; then
			busybox=$candidate
			break
		fi
	done
fi
[[ -n $busybox && -x $busybox ]] ||
	die "busybox not found; install it with: apt-get install -y busybox-static"
# The bundle has no libc, so the binary must be statically linked
# (Debian's plain "busybox" package is dynamic; "busybox-static" is not).
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked; install the static one with: apt-get install -y busybox-static"
fi

# --- JSON string quoting (no jq) ---------------------------------------------
json_str() {
	local s=$1 out='' c i
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	if [[ $s == *[$'\x01'-$'\x1f']* ]]; then
		for ((i = 0; i < ${#s}; i++)); do
			c=${s:i:1}
			if [[ $c == [$'\x01'-$'\x1f'] ]]; then
				printf -v c '\\u%04x' "'$c"
			fi
			out+=$c
		done
		s=$out
	fi
	printf '"%s"' "$s"
}

args_json=''
for a in "${args[@]}"; do
	[[ -z $args_json ]] || args_json+=', '
	args_json+=$(json_str "$a")
done

# --- rootfs ------------------------------------------------------------------
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
rootfs=$dir/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc,root,home/user}
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
chown 1000:1000 "$rootfs/home/user" 2>/dev/null || true

cp "$busybox" "$rootfs/bin/busybox"
chmod 755 "$rootfs/bin/busybox"
applets=$("$busybox" --list) || die "'$busybox --list' failed"
mapfile -t applet_list <<<"$applets"
for applet in "${applet_list[@]}"; do
	[[ -z $applet ]] && continue
	[[ $applet == busybox || $applet == */* ]] && continue
	ln -sf busybox "$rootfs/bin/$applet"
done

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
user:x:1000:
EOF

# --- config.json -------------------------------------------------------------
caps='"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
				"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
				"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"'

cat >"$dir/config.json" <<EOF
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [$args_json],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm",
			"HOME=/root"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				$caps
			],
			"effective": [
				$caps
			],
			"permitted": [
				$caps
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "berth",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": ["nosuid", "noexec", "nodev"]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": ["nosuid", "noexec", "nodev", "ro"]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
		}
	],
	"linux": {
		"namespaces": [
			{ "type": "pid" },
			{ "type": "network" },
			{ "type": "ipc" },
			{ "type": "uts" },
			{ "type": "mount" }
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
EOF

echo "bundle ready: $dir (args: ${args[*]})" >&2
