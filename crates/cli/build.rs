//! `berth-monitor` is linked as a position-dependent executable (`-no-pie`): it runs once per
//! container, and a PIE's relocated data (vtables, string tables, panic locations: ~200 KiB of
//! `.data.rel.ro` and GOT) would be written by the loader, privately, in every monitor; at a
//! fixed address those pages stay the file's, clean and shared by all monitors. Its code is
//! still position-independent (the crates are compiled for a PIE), only the address is fixed;
//! its heap, stack, mmaps and libraries stay randomized. `berth` itself stays a PIE, with its
//! relative relocations packed (`-z pack-relative-relocs`, RELR; glibc >= 2.36): the loader
//! reads a bitmap of a few KiB instead of ~22,000 `.rela.dyn` entries (~530 KiB) at each start.
fn main() {
    println!("cargo:rustc-link-arg-bin=berth-monitor=-no-pie");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bin=berth=-Wl,-z,pack-relative-relocs");
    }
}
