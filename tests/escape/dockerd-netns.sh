#!/usr/bin/env bash
# Run the escape battery against dockerd, the reference: a private dockerd (with its own
# containerd) in a network namespace of its own, so that its iptables rules (network isolation,
# NAT) are in force without touching the host's firewall, bridges or the shared docker0.
# The test process runs in the same network namespace (the host's 127.0.0.1 of the loopback test
# is then the namespace's).  Needs root, docker.io and containerd.
#
#   tests/escape/dockerd-netns.sh [cargo test args...]
#   e.g. tests/escape/dockerd-netns.sh -- --include-ignored
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

work=$(mktemp -d /tmp/berth-escape-dockerd.XXXXXX)
ns=$(basename "$work" | tr -cd 'a-zA-Z0-9' | tail -c 12)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
	ip netns del "$ns" 2>/dev/null || true
	umount -R "$work"/data/* "$work"/exec/* 2>/dev/null || true
	rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
in_ns=(nsenter --net=/run/netns/"$ns")
"${in_ns[@]}" containerd --root "$work/ctd-root" --state "$work/ctd-state" \
	--address "$work/ctd.sock" >"$work/containerd.log" 2>&1 &
pids+=($!)
"${in_ns[@]}" dockerd --containerd "$work/ctd.sock" --data-root "$work/data" \
	--exec-root "$work/exec" --pidfile "$work/dockerd.pid" -H "unix://$work/docker.sock" \
	>"$work/dockerd.log" 2>&1 &
pids=("$!" "${pids[@]}")
for _ in $(seq 100); do
	DOCKER_HOST="unix://$work/docker.sock" docker version >/dev/null 2>&1 && break
	sleep 0.3
done
DOCKER_HOST="unix://$work/docker.sock" docker version --format 'dockerd {{.Server.Version}}'

cargo test -p berth-e2e --test escape --no-run
"${in_ns[@]}" env BERTH_TEST_ENGINE=docker DOCKER_HOST="unix://$work/docker.sock" \
	cargo test -p berth-e2e --test escape "$@"
