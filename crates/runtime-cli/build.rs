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
//! `BERTH_LINK_MAP=DIR` also writes the linker's map to `DIR/berth-runtime.map` (the
//! regeneration script reads the functions' addresses from it). `BERTH_NO_TEXT_ORDER=1` leaves
//! the code in the compiler's order (to measure what the order buys, or for a linker that is
//! not lld).
fn main() {
    println!("cargo:rerun-if-changed=text-order.txt");
    println!("cargo:rerun-if-env-changed=BERTH_LINK_MAP");
    println!("cargo:rerun-if-env-changed=BERTH_NO_TEXT_ORDER");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    let bin = "cargo:rustc-link-arg-bin=berth-runtime";
    println!("{bin}=-Wl,-z,pack-relative-relocs");
    if let Ok(dir) = std::env::var("BERTH_LINK_MAP") {
        println!("{bin}=-Wl,-Map={dir}/berth-runtime.map");
    }
    let lld_by_default = var("CARGO_CFG_TARGET_ARCH") == "x86_64";
    if var("PROFILE") == "release" && lld_by_default && var("BERTH_NO_TEXT_ORDER").is_empty() {
        let order = format!("{}/text-order.txt", var("CARGO_MANIFEST_DIR"));
        println!("{bin}=-Wl,--symbol-ordering-file={order}");
        println!("{bin}=-Wl,--no-warn-symbol-ordering");
    }
}
