//! `berth-monitor` is linked as a position-dependent executable (`-no-pie`): it runs once per
//! container, and a PIE's relocated data (vtables, string tables, panic locations: ~200 KiB of
//! `.data.rel.ro` and GOT) would be written by the loader, privately, in every monitor; at a
//! fixed address those pages stay the file's, clean and shared by all monitors. Its code is
//! still position-independent (the crates are compiled for a PIE), only the address is fixed;
//! its heap, stack, mmaps and libraries stay randomized. `berth` itself stays a PIE.
fn main() {
    println!("cargo:rustc-link-arg-bin=berth-monitor=-no-pie");
}
