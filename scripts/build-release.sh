#!/usr/bin/env bash
# The release build the README installs, into target/release (or $CARGO_TARGET_DIR/release):
# - `berth`, the CLI and engine, linked as usual;
# - `berth-runtime`, the OCI runtime, statically linked (glibc's crt-static and libseccomp's
#   archive): each container start executes it twice (the CVE-2019-5736 re-execution), and
#   without the dynamic loader and the shared libraries' start-up each execution costs ~0.6
#   instead of ~1.2 ms of CPU here (bench/README.md); it also runs on a host without
#   libseccomp, as runc's and crun's release binaries do.
# - `berth-monitor`, each container's monitor, statically linked too, at a fixed address
#   (non-PIE, as crates/cli/build.rs explains): it lives as long as its container, and the
#   shared libraries' relocated data and the loader's were ~75 KiB of the ~240 KiB private
#   memory of every idle monitor (bench/density.sh: 236-252 -> 164-168 KiB), with their page
#   tables. It resolves no names, so static glibc's NSS caveat does not bite.
# crt-static goes to those binaries' final compilation only (`cargo rustc`): proc macros
# cannot be built with it. The builds use the same libseccomp settings, so none rebuilds
# what another built. Extra arguments go to every cargo invocation (e.g. -q).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

multiarch=$(gcc -dumpmachine)
lib=/usr/lib/$multiarch
if [[ ! -f $lib/libseccomp.a ]]; then
	echo "build-release: $lib/libseccomp.a not found (apt-get install libseccomp-dev)" >&2
	exit 1
fi
export LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$lib
cargo build --release -p berth-cli "$@"
# (after the build above, which links a dynamic one in its place)
cargo rustc --release -p berth-cli --bin berth-monitor "$@" -- \
	-C target-feature=+crt-static -C relocation-model=static
cargo rustc --release -p berth-runtime --bin berth-runtime "$@" -- -C target-feature=+crt-static
