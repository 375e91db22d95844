#!/usr/bin/env bash
# Build every fuzz target and run each for a bounded time; fails on the first crash, panic,
# failed assertion, timeout or out-of-memory, leaving the input in fuzz/artifacts/<target>/.
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]     (default 20 s each, every target)
# Env:   FUZZ_SANITIZER=address   build with AddressSanitizer (needs nightly flags:
#                                 RUSTC_BOOTSTRAP=1 is set for it); default none
#
# This is what `cargo fuzz build` / `cargo fuzz run` do, with plain cargo, so that CI does
# not have to build cargo-fuzz (`cargo install cargo-fuzz` takes 7.5 minutes on 2 cores):
# the same RUSTFLAGS (sanitizer coverage, --cfg fuzzing, debug assertions), --release and
# an explicit --target so the flags do not reach build scripts and proc macros. Without a
# sanitizer every flag is stable, so this works on a stable toolchain. With cargo-fuzz
# installed, `cargo fuzz run -s none <target> fuzz/corpus/<target>` runs the same targets.
#
# fuzz/Cargo.lock pins the same versions as the main Cargo.lock; no --locked, so a dependency
# added to a crate does not break this script before the lock here is refreshed
# (`cargo update --workspace --offline --manifest-path fuzz/Cargo.toml`).
#
# A fixed libFuzzer seed by default (BERTH_FUZZ_SEED, 0 = random), so CI's run repeats the
# mutations of a local run of the same length instead of failing at random on a new find.
# The checked-in seeds (fuzz/corpus/<target>/) are only read; what the fuzzer finds goes to
# a scratch corpus under fuzz/target/, which later runs keep using.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="${1:-20}"
shift || true
all=(dockerfile dockerignore layer_tar image_json reference dns api_create api_filters json_log)
targets=("${@:-${all[@]}}")
triple="$(rustc -vV | sed -n 's/^host: //p')"
sanitizer="${FUZZ_SANITIZER:-none}"

flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
flags+=" --cfg fuzzing -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
flags+=" -Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions -Coverflow-checks"
target_dir="$PWD/target"
if [ "$sanitizer" != none ]; then
	flags+=" -Zsanitizer=$sanitizer"
	export RUSTC_BOOTSTRAP=1
	target_dir="$PWD/target/$sanitizer"
fi

echo "== fuzz: building ${#targets[@]} targets (sanitizer: $sanitizer)"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
start=$(date +%s)
RUSTFLAGS="$flags ${RUSTFLAGS:-}" CARGO_TARGET_DIR="$target_dir" \
	cargo build --release --target "$triple" "${bins[@]}"
echo "== fuzz: built in $(($(date +%s) - start)) s"

status=0
for t in "${targets[@]}"; do
	work="$target_dir/corpus/$t"
	artifacts="$PWD/artifacts/$t"
	mkdir -p "$work" "$artifacts"
	log="$target_dir/$t.log"
	# the targets' scratch files (layer_tar's sandbox lives as long as the process)
	tmp="$target_dir/tmp/$t"
	rm -rf "$tmp" && mkdir -p "$tmp"
	echo "== fuzz: $t for ${seconds}s"
	if TMPDIR="$tmp" "$target_dir/$triple/release/$t" "$work" "corpus/$t" \
		-max_total_time="$seconds" -seed="${BERTH_FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		echo "   ok: ${execs:-?} executions, $cov, corpus $(ls "$work" | wc -l) inputs"
	else
		status=1
		echo "   FAILED: $t (input saved in fuzz/artifacts/$t/); the end of its log:"
		tail -n 40 "$log" | sed 's/^/   | /'
	fi
	rm -rf "$tmp"
done
exit "$status"
