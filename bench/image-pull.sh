#!/usr/bin/env bash
# Pull + unpack of a ~100 MB (uncompressed), 6-layer image from a local registry:
#   berth pull            (download + verify + unpack into shared layer dirs)
#   skopeo copy + umoci unpack
#   dockerd pull          (dockerd on a temp data-root and socket)
# Prints the median of N runs of each (fresh state for every run) and ratios.
#
# Usage: sudo bench/image-pull.sh [runs]   (needs docker-registry, skopeo,
#        umoci, dockerd/docker, python3, bc; builds berth in release mode)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${1:-3}"
W="$(mktemp -d /tmp/berth-bench.XXXXXX)"
REG_PID=""
DOCKERD_PID=""
cleanup() {
	[ -n "$DOCKERD_PID" ] && kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null || true
	[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null || true
	grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
"$(dirname "${BASH_SOURCE[0]}")/../scripts/build-release.sh" -q
BERTH="$CARGO_TARGET_DIR/release/berth"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/reg.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/regdata
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$W/reg.yml" >/dev/null 2>&1 &
REG_PID=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

# An OCI layout: busybox-static plus 5 layers of ~20 MB in 200 files each (half random, half
# base64 text, so gzip has real work to do), ~100 MB uncompressed, each with many small files.
python3 - "$W/layout" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile, base64
out = sys.argv[1]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def put(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(b)
    return "sha256:" + d
def layer(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data, mode in files:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    return raw, gzip.compress(raw, 6, mtime=0)
layers = [layer([("bin/busybox", open("/bin/busybox", "rb").read(), 0o755)])]
for i in range(5):
    files = []
    for j in range(200):
        n = 100_000
        data = os.urandom(n) if j % 2 else base64.b64encode(os.urandom(n * 3 // 4))
        files.append((f"data{i}/f{j}", data, 0o644))
    layers.append(layer(files))
descs, diffs = [], []
for raw, gz in layers:
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(gz), "size": len(gz)})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/busybox", "sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
                  "layers": descs}).encode()
md = put(man)
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
          open(f"{out}/index.json", "w"))
print("image: %d layers, %.1f MB compressed, %.1f MB uncompressed" % (
    len(layers), sum(len(g) for _, g in layers) / 1e6, sum(len(r) for r, _ in layers) / 1e6))
PY
IMG="127.0.0.1:$PORT/bench/img:v1"
skopeo copy -q --dest-tls-verify=false "oci:$W/layout:v1" "docker://$IMG"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_berth() {
	rm -rf "$W/berth"
	local t0; t0=$(now)
	"$BERTH" --root "$W/berth" pull -q "$IMG" >/dev/null
	echo "$(now) - $t0" | bc
}
run_skopeo_umoci() {
	rm -rf "$W/oci" "$W/bundle"
	local t0; t0=$(now)
	skopeo copy -q --src-tls-verify=false "docker://$IMG" "oci:$W/oci:v1"
	umoci unpack --image "$W/oci:v1" "$W/bundle" >/dev/null
	echo "$(now) - $t0" | bc
}

B=(); S=(); D=()
for _ in $(seq "$RUNS"); do B+=("$(run_berth)"); S+=("$(run_skopeo_umoci)"); done
b=$(printf '%s\n' "${B[@]}" | median)
s=$(printf '%s\n' "${S[@]}" | median)

d=""
if command -v dockerd >/dev/null; then
	dockerd --data-root "$W/docker" --exec-root "$W/dexec" --pidfile "$W/d.pid" \
		-H "unix://$W/d.sock" --bridge=none --iptables=false --ip6tables=false >"$W/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	for _ in $(seq 60); do docker -H "unix://$W/d.sock" info >/dev/null 2>&1 && break; sleep 0.5; done
	if docker -H "unix://$W/d.sock" info >/dev/null 2>&1; then
		for _ in $(seq "$RUNS"); do
			docker -H "unix://$W/d.sock" rmi -f "$IMG" >/dev/null 2>&1 || true
			docker -H "unix://$W/d.sock" image prune -af >/dev/null 2>&1 || true
			t0=$(now)
			docker -H "unix://$W/d.sock" pull -q "$IMG" >/dev/null
			D+=("$(echo "$(now) - $t0" | bc)")
		done
		d=$(printf '%s\n' "${D[@]}" | median)
	else
		echo "dockerd did not start; skipping it (see $W/dockerd.log)"
	fi
fi

echo "runs: $RUNS (median seconds)"
printf 'berth pull:                 %6.2f s   all: %s\n' "$b" "${B[*]}"
printf 'skopeo copy + umoci unpack: %6.2f s   all: %s   ratio %.2fx\n' "$s" "${S[*]}" "$(echo "$s / $b" | bc -l)"
if [ -n "$d" ]; then
	printf 'dockerd pull:               %6.2f s   all: %s   ratio %.2fx\n' "$d" "${D[*]}" "$(echo "$d / $b" | bc -l)"
fi
