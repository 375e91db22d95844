#!/usr/bin/env bash
# Build the workspace, run every test against our runtime, then the
# conformance suite against runc (to check the suite itself).
# Usage: tests/run.sh   (from any directory; needs root for the e2e suites)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The harness looks for our binary in <workspace>/target/debug unless told
# otherwise; follow CARGO_TARGET_DIR when it is set.
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export BERTH_RUNTIME_BIN="${BERTH_RUNTIME_BIN:-$target_dir/debug/berth-runtime}"

echo "== cargo build --workspace"
cargo build --workspace

echo "== cargo test --workspace (runtime: ${BERTH_TEST_RUNTIME:-berth} $BERTH_RUNTIME_BIN)"
cargo test --workspace

echo "== conformance suite against runc"
BERTH_TEST_RUNTIME=runc cargo test -p berth-e2e --test conformance
