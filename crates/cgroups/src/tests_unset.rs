//! "Not set" values engines send: dockerd 20.10 puts `blockIO.weight: 0` in every
//! container's config; runc skips it and so must we (the kernel refuses 0 with ERANGE,
//! which failed every container under dockerd).

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxResources, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
    LinuxWeightDeviceBuilder,
};

use crate::fs::record;
use crate::tests_fake::{pairs, put, rel, v1_fake, v2_fake, v2_leaf};
use crate::*;

/// What dockerd 20.10 sends for `docker run` without blkio flags.
fn dockerd_default_block_io() -> LinuxResources {
    serde_json::from_str(r#"{"blockIO": {"weight": 0}}"#).unwrap()
}

/// Zero weights next to real settings: only the real ones are written.
fn zeros_and_a_throttle() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(0u16)
                .leaf_weight(0u16)
                .weight_device(vec![
                    LinuxWeightDeviceBuilder::default()
                        .major(8)
                        .minor(0)
                        .weight(0u16)
                        .leaf_weight(0u16)
                        .build()
                        .unwrap(),
                    LinuxWeightDeviceBuilder::default()
                        .major(8)
                        .minor(16)
                        .weight(300u16)
                        .build()
                        .unwrap(),
                ])
                .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                    .major(8)
                    .minor(0)
                    .rate(1024u64)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[test]
fn v1_blkio_weight_zero_is_not_written() {
    let (t, layout) = v1_fake();
    let base = t.0.join("sys/fs/cgroup");
    let m = manager_with_layout(&layout, "/docker/c0", "c0").unwrap();
    m.create().unwrap();
    let blkio = base.join("blkio/docker/c0");
    put(
        &blkio,
        &[
            ("blkio.bfq.weight", "100"),
            ("blkio.bfq.weight_device", ""),
            ("blkio.throttle.read_bps_device", ""),
        ],
    );
    record::start();
    m.set(&dockerd_default_block_io()).unwrap();
    assert_eq!(rel(&base, record::take()), pairs(&[]));

    record::start();
    m.set(&zeros_and_a_throttle()).unwrap();
    assert_eq!(
        rel(&base, record::take()),
        pairs(&[
            ("blkio/docker/c0/blkio.bfq.weight_device", "8:16 300"),
            ("blkio/docker/c0/blkio.throttle.read_bps_device", "8:0 1024"),
        ])
    );
    m.delete().unwrap();
}

#[test]
fn v2_io_weight_zero_is_not_written() {
    let (t, layout) = v2_fake();
    let m = manager_with_layout(&layout, "/docker/c2", "c2").unwrap();
    m.create().unwrap();
    let dir = t.0.join("sys/fs/cgroup/docker/c2");
    v2_leaf(&dir);
    // Without any weight file (io not enabled): nothing to apply, so no error.
    std::fs::remove_file(dir.join("io.weight")).unwrap();
    record::start();
    m.set(&dockerd_default_block_io()).unwrap();
    assert_eq!(rel(&dir, record::take()), pairs(&[]));
    put(&dir, &[("io.bfq.weight", "default 100")]);
    record::start();
    m.set(&dockerd_default_block_io()).unwrap();
    assert_eq!(rel(&dir, record::take()), pairs(&[]));
    record::start();
    m.set(&zeros_and_a_throttle()).unwrap();
    assert_eq!(
        rel(&dir, record::take()),
        pairs(&[("io.bfq.weight", "8:16 300"), ("io.max", "8:0 rbps=1024")])
    );
    m.delete().unwrap();
}
