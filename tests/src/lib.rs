//! Test harness: busybox bundles, runtime selection, cleanup guards.
