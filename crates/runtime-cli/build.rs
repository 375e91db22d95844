//! How `berth-runtime` is laid out at link time, for a start that maps less of it.
//!
//! - **Code order** (release builds on x86_64-linux-gnu, where rustc links with its own lld):
//!   `text-order.txt` lists, in first-call order, the functions a container's create, start and
//!   run execute (~450 of ~3,200). lld places them first and together (`--symbol-ordering-file`).
//!   The kernel maps file pages 64 KiB around each one touched (fault-around), so scattered hot
//!   functions made ~2.3 MiB of the 3 MiB of code resident in every runtime process; together
//!   they take ~1 MiB. Names the build does not have are ignored (the list goes stale as code
//!   changes, and only the README's build command produces these names):
//!   `scripts/runtime-text-order.sh` regenerates it.
//! - **Packed relative relocations** (`-z pack-relative-relocs`, RELR; glibc >= 2.36): the
//!   loader reads a ~3 KiB bitmap instead of ~220 KiB of `.rela.dyn` entries.
//!
//! Both apply to the README's build (`scripts/build-release.sh`), which links the binary
//! statically, and to a dynamically linked one (`cargo build`).
//!
//! `BERTH_LINK_MAP=DIR` also writes the linker's map to `DIR/berth-runtime.map` (the
//! regeneration script reads the functions' addresses from it). `BERTH_NO_TEXT_ORDER=1` leaves
//! the code in the compiler's order (to measure what the order buys, or for a linker that is
//! not lld).
fn main() {
    println!("cargo:rerun-if-changed=text-order.txt");
    println!("cargo:rerun-if-env-changed=BERTH_LINK_MAP");
    println!("cargo:rerun-if-env-changed=BERTH_NO_TEXT_ORDER");
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    let bin = "cargo:rustc-link-arg-bin=berth-runtime";
    println!("{bin}=-Wl,-z,pack-relative-relocs");
    if let Ok(dir) = std::env::var("BERTH_LINK_MAP") {
        println!("{bin}=-Wl,-Map={dir}/berth-runtime.map");
    }
    if var("PROFILE") == "release" && links_with_rust_lld() && var("BERTH_NO_TEXT_ORDER").is_empty()
    {
        let order = format!("{}/text-order.txt", var("CARGO_MANIFEST_DIR"));
        println!("{bin}=-Wl,--symbol-ordering-file={order}");
        println!("{bin}=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether the binary is linked by rustc's own lld, which knows `--symbol-ordering-file` (GNU ld
/// does not): the default for x86_64-unknown-linux-gnu since Rust 1.90, unless a linker or
/// linker flavour is chosen in the build's configuration.
fn links_with_rust_lld() -> bool {
    if var("CARGO_CFG_TARGET_ARCH") != "x86_64" || !var("RUSTC_LINKER").is_empty() {
        return false;
    }
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    if flags.contains("linker") || flags.contains("fuse-ld") {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("-V").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = text.split_whitespace().nth(1).unwrap_or("").split('.');
    let major: u32 = version.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let minor: u32 = version.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    major > 1 || (major == 1 && minor >= 90)
}

/// An environment variable of the build, empty when unset.
fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_default()
}
