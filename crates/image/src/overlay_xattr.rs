//! The xattrs overlayfs keeps its own marks in (opaque directories): `trusted.overlay.*` for
//! root on the host; in a user namespace (rootless berth) trusted xattrs are refused, and the
//! overlay is mounted with `userxattr` (Linux >= 5.11) to use `user.overlay.*` instead.
//! A layer's own xattrs in either namespace are never taken: they could forge opaque dirs.

use std::sync::OnceLock;

/// Whether this process is in a user namespace other than the initial one (whose uid map is
/// the identity over every id), where only `user.overlay.*` works.
fn in_user_namespace() -> bool {
    static IN: OnceLock<bool> = OnceLock::new();
    *IN.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
            .unwrap_or(false)
    })
}

/// `BERTH_SNAPSHOTTER=fuse-overlayfs`: rootless overlays through fuse-overlayfs even where the
/// kernel would mount them (to test the fallback, or where native overlays misbehave).
pub fn fuse_forced() -> bool {
    std::env::var("BERTH_SNAPSHOTTER").as_deref() == Ok("fuse-overlayfs")
}

/// Whether overlays are mounted with `userxattr` here.
pub fn userxattr() -> bool {
    in_user_namespace()
}

/// The opaque-dir xattr of this process's overlays.
pub fn opaque_name() -> &'static str {
    if userxattr() {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    }
}

/// An overlayfs attribute (of either namespace): never taken from a layer, never put in one.
pub fn is_overlay_own(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

/// The overlayfs xattr marking a directory that hides everything below it in lower layers.
pub fn is_opaque(name: &str, value: &[u8]) -> bool {
    matches!(name, "trusted.overlay.opaque" | "user.overlay.opaque") && value == b"y"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_namespaces_are_overlay_own() {
        assert!(is_overlay_own("trusted.overlay.opaque"));
        assert!(is_overlay_own("user.overlay.redirect"));
        assert!(!is_overlay_own("user.mime_type"));
        assert!(is_opaque("user.overlay.opaque", b"y"));
        assert!(!is_opaque("user.overlay.opaque", b"n"));
    }
}
