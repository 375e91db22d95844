//! `--device`, `--device-cgroup-rule` and the blkio flags, with real devices: /dev/fuse (opened
//! only when passed), a loop device mapped read-only under another name, throttles and the
//! weight in the container's blkio cgroup. Written against docker (`BERTH_TEST_ENGINE=docker`);
//! needs root.

use berth_e2e::engine;
use std::path::Path;

/// The first block device of the host that is a whole disk (`/sys/block/<name>` with a /dev
/// node), for the throttles.
fn a_disk() -> Option<(String, String)> {
    for e in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram") {
            continue;
        }
        let dev = format!("/dev/{name}");
        let numbers = std::fs::read_to_string(e.path().join("dev")).ok()?;
        if Path::new(&dev).exists() {
            return Some((dev, numbers.trim().to_string()));
        }
    }
    None
}

/// /dev/fuse is denied by docker's default device cgroup; `--device /dev/fuse` makes the node
/// and allows it.
#[test]
fn device_fuse_is_opened_only_when_passed() {
    let e = engine!();
    if !Path::new("/dev/fuse").exists() {
        eprintln!("SKIP: no /dev/fuse");
        return;
    }
    let img = e.img().to_string();
    let open = "exec 3<>/dev/fuse && echo opened";
    let o = e.cmd(&[
        "run",
        "--rm",
        "--device",
        "/dev/fuse",
        &img,
        "sh",
        "-c",
        open,
    ]);
    assert_eq!((o.code, o.stdout.trim()), (0, "opened"), "{o:?}");
    let o = e.cmd(&["run", "--rm", &img, "sh", "-c", "ls /dev/fuse"]);
    assert_ne!(o.code, 0, "/dev/fuse without --device: {o:?}");
}

/// `--device HOST:CONTAINER:r`: the node under its new name, readable, not writable.
#[test]
fn device_renamed_and_read_only() {
    let e = engine!();
    if !Path::new("/dev/loop0").exists() {
        eprintln!("SKIP: no /dev/loop0");
        return;
    }
    let img = e.img().to_string();
    let o = e.cmd(&[
        "run",
        "--rm",
        "--device",
        "/dev/loop0:/dev/xloop:r",
        &img,
        "sh",
        "-c",
        "ls -l /dev/xloop; head -c1 /dev/xloop >/dev/null && echo read-ok; echo x > /dev/xloop || echo write-denied",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.starts_with('b'), "not a block device: {o:?}");
    assert!(o.stdout.contains("7,"), "{o:?}");
    assert!(o.stdout.contains("read-ok"), "{o:?}");
    assert!(o.stdout.contains("write-denied"), "{o:?}");
    let o = e.cmd(&[
        "run",
        "--rm",
        "--device",
        "/dev/loop0:/dev/x:rwz",
        &img,
        "true",
    ]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("bad mode specified: rwz"), "{o:?}");
    let o = e.cmd(&["run", "--rm", "--device", "/dev/no-such-dev", &img, "true"]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("/dev/no-such-dev"), "{o:?}");
}

/// `--device-cgroup-rule` allows a node the container makes itself (mknod is a default
/// capability; the default rules deny fuse).
#[test]
fn device_cgroup_rule_allows_mknod_device() {
    let e = engine!();
    let img = e.img().to_string();
    let script = "mknod /dev/f2 c 10 229 && exec 3<>/dev/f2 && echo opened";
    let o = e.cmd(&["run", "--rm", &img, "sh", "-c", script]);
    assert_ne!(o.stdout.trim(), "opened", "{o:?}");
    let o = e.cmd(&[
        "run",
        "--rm",
        "--device-cgroup-rule",
        "c 10:229 rwm",
        &img,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!((o.code, o.stdout.trim()), (0, "opened"), "{o:?}");
}

/// The throttles land in the container's blkio cgroup (seen from inside at
/// /sys/fs/cgroup/blkio, as docker mounts it); a bad rate is refused before anything runs.
#[test]
fn blkio_throttles_and_weight_reach_the_cgroup() {
    let e = engine!();
    if !Path::new("/sys/fs/cgroup/blkio").is_dir() {
        eprintln!("SKIP: no cgroup v1 blkio hierarchy");
        return;
    }
    let Some((disk, numbers)) = a_disk() else {
        eprintln!("SKIP: no disk");
        return;
    };
    let img = e.img().to_string();
    let o = e.cmd(&[
        "run",
        "--rm",
        "--device-read-bps",
        &format!("{disk}:1mb"),
        "--device-write-bps",
        &format!("{disk}:2mb"),
        "--device-read-iops",
        &format!("{disk}:300"),
        "--device-write-iops",
        &format!("{disk}:400"),
        &img,
        "sh",
        "-c",
        "cd /sys/fs/cgroup/blkio && cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device blkio.throttle.read_iops_device blkio.throttle.write_iops_device",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    let want = format!("{numbers} 1048576\n{numbers} 2097152\n{numbers} 300\n{numbers} 400");
    assert_eq!(o.stdout.trim(), want, "{o:?}");
    let o = e.cmd(&[
        "run",
        "--rm",
        "--device-read-bps",
        &format!("{disk}:lots"),
        &img,
        "true",
    ]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("invalid rate"), "{o:?}");
    if e.is_docker() {
        // dockerd checks the weight only where the host's root blkio cgroup has a weight file,
        // and elsewhere drops it with a warning: what berth refuses to do
        return;
    }
    let o = e.cmd(&["run", "--rm", "--blkio-weight", "5", &img, "true"]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("10 to 1000"), "{o:?}");
    // a weight file only exists under a CFQ or BFQ scheduler's cgroup: applied where it does,
    // refused (not dropped) where it does not
    let o = e.cmd(&[
        "run",
        "--rm",
        "--blkio-weight",
        "300",
        &img,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.bfq.weight",
    ]);
    if o.code == 0 {
        assert!(o.stdout.contains("300"), "{o:?}");
    } else {
        assert!(o.stderr.contains("weight"), "{o:?}");
    }
}
