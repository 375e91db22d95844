use super::*;

#[test]
fn a_layer_held_twice_is_stacked_once_at_its_top_place() {
    let d = tempfile::tempdir().unwrap();
    let s = Snapshotter::open(d.path()).unwrap();
    let a = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
    let b = Digest::parse(&format!("sha256:{}", "b".repeat(64))).unwrap();
    for l in [&a, &b] {
        fs::create_dir_all(s.layer_dir(l)).unwrap();
    }
    let lowers = s
        .lower_dirs("x", &[a.clone(), b.clone(), a.clone()])
        .unwrap();
    assert_eq!(lowers, vec![s.layer_dir(&a), s.layer_dir(&b)]);
}

#[test]
fn long_option_strings_get_short_lower_names() {
    let root = "/var/lib/berth-state-root-of-a-typical-length/snapshots";
    let lowers: Vec<String> = (0..120)
        .map(|i| format!("{root}/layers/{:064x}", i))
        .collect();
    let upper = Path::new(root).join("active/0123456789abcdef0123456789abcdef.upper");
    let work = Path::new(root).join("active/0123456789abcdef0123456789abcdef.work");
    let full = overlay_data(&lowers, &upper, &work, true);
    assert!(full.starts_with(&format!("lowerdir={}:", lowers[0])));
    assert!(full.ends_with(".work,volatile"));
    assert!(!fits_page(&full, 4096), "{} bytes", full.len());
    // a few layers still go the ordinary way
    assert!(fits_page(
        &overlay_data(&lowers[..5], &upper, &work, true),
        4096
    ));
    // descriptor names: 120 layers fit, even with 4-digit descriptors
    let short: Vec<String> = (0..120).map(|i| fd_name(1000 + i)).collect();
    let data = overlay_data(&short, &upper, &work, true);
    assert!(fits_page(&data, 4096), "{} bytes", data.len());
    assert!(data.contains("lowerdir=/proc/self/fd/1000:/proc/self/fd/1001:"));
    // the NUL must fit too
    assert!(fits_page(&"x".repeat(4095), 4096));
    assert!(!fits_page(&"x".repeat(4096), 4096));
}
