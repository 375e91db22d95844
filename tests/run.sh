#!/usr/bin/env bash
# Build the workspace, run every test against our runtime, then the
# conformance suite against runc (which validates the suite itself).
#
# Usage: tests/run.sh        (from any directory; the e2e suites need root)
# Env:   CARGO_TARGET_DIR    honoured; our binary is looked up there (the fuzz targets
#                            always build in fuzz/target, with their own RUSTFLAGS)
#        BERTH_FUZZ_SECONDS  seconds per fuzz target (default 20; 0 skips fuzzing)
#        BERTH_RUNTIME_BIN   test another build of berth-runtime
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The harness looks for our binary in <workspace>/target/debug unless told
# otherwise; follow CARGO_TARGET_DIR when it is set.
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export BERTH_RUNTIME_BIN="${BERTH_RUNTIME_BIN:-$target_dir/debug/berth-runtime}"

echo "== cargo build --workspace"
cargo build --workspace

# Both test steps always run; the script fails if either failed.
status=0

# (includes tests/tests/cri.rs: containerd's CRI plugin drives berth-runtime, and runc)
echo "== cargo test --workspace (runtime: berth-runtime at $BERTH_RUNTIME_BIN)"
BERTH_TEST_RUNTIME=berth cargo test --workspace --no-fail-fast || status=1

echo "== interop: containerd drives berth-runtime"
bash tests/interop/containerd.sh "$BERTH_RUNTIME_BIN" "$target_dir/debug/berth" || status=1

echo "== interop: podman (conmon) drives berth-runtime"
bash tests/interop/podman.sh "$BERTH_RUNTIME_BIN" || status=1

# dockerd with berth-runtime as its default runtime (BERTH_TEST_ENGINE=docker-berth): the
# suites written against docker, which all pass there with runc too (run them with `runc` in
# place of the binary to compare). For time, a subset: the whole engine suite (what dockerd
# asks of its runtime: run, exec, ttys, signals, pause, limits, OOM, capabilities, restarts),
# and of the network, build and compose suites the tests that run containers through other
# paths (network namespaces of bridges, user networks, none; RUN steps; compose exec).
echo "== interop: dockerd drives berth-runtime (engine suite)"
bash tests/interop/dockerd.sh "$BERTH_RUNTIME_BIN" --test engine -- --test-threads 4 || status=1
echo "== interop: dockerd drives berth-runtime (network, build, compose subset)"
bash tests/interop/dockerd.sh "$BERTH_RUNTIME_BIN" --test network --test build --test api_compose -- \
    --test-threads 4 default_bridge_address_gateway_hosts_and_dns user_network_reach_by_name_and_alias \
    network_none_has_only_lo_and_host_sees_host_links publish_on_loopback_only_and_udp \
    multi_stage_final_image_holds_only_the_artifact build_errors compose_up_ps_logs_exec_down ||
    status=1

echo "== conformance suite against runc"
BERTH_TEST_RUNTIME=runc cargo test -p berth-e2e --test conformance || status=1

# libFuzzer on every parser of untrusted input, a bounded time per target (fuzz/run.sh);
# BERTH_FUZZ_SECONDS=0 skips it
if [ "${BERTH_FUZZ_SECONDS:-20}" != 0 ]; then
    echo "== fuzz targets, ${BERTH_FUZZ_SECONDS:-20} s each"
    bash fuzz/run.sh "${BERTH_FUZZ_SECONDS:-20}" || status=1
fi

if [ "$status" -ne 0 ]; then
    echo "== FAILED (see above)"
fi
exit "$status"
