#!/usr/bin/env bash
# Interop: dockerd drives berth-runtime. Starts a private dockerd whose default runtime is
# berth-runtime (the README's daemon.json: `"runtimes": {"berth": {"path": BIN}}`,
# `"default-runtime": "berth"`) and runs the suites written against docker on it
# (BERTH_TEST_ENGINE=docker-berth: the harness checks the daemon's default runtime).
# With `runc` instead of a binary, the same daemon keeps its own runc: the reference run.
#
# Usage: tests/interop/dockerd.sh BERTH_RUNTIME_BIN|runc [cargo test arguments...]
#   e.g. tests/interop/dockerd.sh target/debug/berth-runtime --test engine --test build
# As root; skips without dockerd. The daemon has its own data/exec roots, socket, pidfile,
# bridge (a free 10.14x.N.0/24; never `--bridge none`, which deletes a shared docker0) and
# --iptables=false, so it coexists with other daemons and test roots; all is removed at exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
want=$1
shift
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    echo "SKIP: dockerd/docker not installed"
    exit 0
fi
work=$(mktemp -d /tmp/berth-dockerd.XXXXXX)
bridge="bdk$(basename "$work" | tr -dc 'a-z0-9' | tail -c 8)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1 || true
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    # what the daemon left running (shims of containers it could not delete name its socket)
    pgrep -f "$work/" | xargs -r kill -9 2>/dev/null || true
    grep -F "$work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l || true
    ip link del "$bridge" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A /24 for the default bridge that no route of the host uses.
routes=$(ip -4 route show table all)
for _ in $(seq 50); do
    net="10.$((140 + RANDOM % 10)).$((1 + RANDOM % 254))"
    grep -qF "$net." <<<"$routes" || break
done
ip link add name "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up

args=(
    --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid"
    -H "unix://$work/docker.sock" --bridge "$bridge" --iptables=false --ip6tables=false
    --default-address-pool "base=10.$((160 + RANDOM % 60)).0.0/16,size=24"
)
if [ "$want" = runc ]; then
    echo '{}' >"$work/daemon.json" # not the host's /etc/docker/daemon.json
    engine=docker
else
    runtime=$(readlink -f "$want")
    [ -x "$runtime" ] || { echo "no runtime binary at $want"; exit 1; }
    # the README's daemon.json
    cat >"$work/daemon.json" <<JSON
{
  "runtimes": { "berth": { "path": "$runtime" } },
  "default-runtime": "berth"
}
JSON
    engine=docker-berth
fi
args+=(--config-file "$work/daemon.json")
dockerd "${args[@]}" >"$work/dockerd.log" 2>&1 &
pid=$!
export DOCKER_HOST="unix://$work/docker.sock"
for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker version >/dev/null || { tail -n 30 "$work/dockerd.log"; exit 1; }
echo "dockerd $(docker version -f '{{.Server.Version}}'), default runtime: $(docker info -f '{{.DefaultRuntime}}')"

status=0
BERTH_TEST_ENGINE=$engine cargo test -p berth-e2e "$@" || status=1
if [ "$status" -ne 0 ]; then
    echo "--- dockerd log (tail):"
    tail -n 40 "$work/dockerd.log"
fi
exit "$status"
