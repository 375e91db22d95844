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

echo "== cargo test --workspace (runtime: berth-runtime at $BERTH_RUNTIME_BIN)"
BERTH_TEST_RUNTIME=berth cargo test --workspace --no-fail-fast || status=1

echo "== interop: containerd drives berth-runtime"
bash tests/interop/containerd.sh "$BERTH_RUNTIME_BIN" "$target_dir/debug/berth" || status=1

echo "== interop: podman (conmon) drives berth-runtime"
bash tests/interop/podman.sh "$BERTH_RUNTIME_BIN" || status=1

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
