//! `--user` resolved in the container's rootfs.

use super::*;

fn rootfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(
        etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         # comment\n\
         app:x:1000:1000:App:/home/app:/bin/sh\n\
         www-data:x:33:33::/var/www:/usr/sbin/nologin\n\
         broken line\n",
    )
    .unwrap();
    std::fs::write(
        etc.join("group"),
        "root:x:0:\n\
         wheel:x:10:root,app\n\
         app:x:1000:\n\
         audio:x:29:app\n\
         www-data:x:33:\n\
         docker:x:999:\n",
    )
    .unwrap();
    dir
}

#[test]
fn user_by_name_and_uid() {
    let r = rootfs();
    assert_eq!(resolve_user(r.path(), "", &[]).unwrap(), (0, 0, vec![10]));
    assert_eq!(
        resolve_user(r.path(), "app", &[]).unwrap(),
        (1000, 1000, vec![10, 29])
    );
    assert_eq!(
        resolve_user(r.path(), "1000", &[]).unwrap(),
        (1000, 1000, vec![10, 29])
    );
    // a uid without an entry is fine, with gid 0
    assert_eq!(
        resolve_user(r.path(), "4242", &[]).unwrap(),
        (4242, 0, vec![])
    );
    assert_eq!(
        resolve_user(r.path(), "4242:4343", &[]).unwrap(),
        (4242, 4343, vec![])
    );
}

#[test]
fn user_with_group() {
    let r = rootfs();
    // an explicit group replaces the primary one and the membership list
    assert_eq!(
        resolve_user(r.path(), "app:www-data", &[]).unwrap(),
        (1000, 33, vec![])
    );
    assert_eq!(
        resolve_user(r.path(), "app:29", &[]).unwrap(),
        (1000, 29, vec![])
    );
    assert_eq!(
        resolve_user(r.path(), "app:nogroup", &[])
            .unwrap_err()
            .to_string(),
        "unable to find group nogroup: no matching entries in group file"
    );
}

#[test]
fn user_missing_and_group_add() {
    let r = rootfs();
    assert_eq!(
        resolve_user(r.path(), "nobody", &[])
            .unwrap_err()
            .to_string(),
        "unable to find user nobody: no matching entries in passwd file"
    );
    assert_eq!(
        resolve_user(r.path(), "www-data", &["docker".into(), "4000".into()]).unwrap(),
        (33, 33, vec![999, 4000])
    );
    assert!(resolve_user(r.path(), "app", &["nosuch".into()])
        .unwrap_err()
        .to_string()
        .contains("unable to find group nosuch"));
    assert!(resolve_user(r.path(), "3000000000", &[]).is_err());

    // no /etc at all: only numeric ids work
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(resolve_user(empty.path(), "", &[]).unwrap(), (0, 0, vec![]));
    assert_eq!(
        resolve_user(empty.path(), "5:6", &[]).unwrap(),
        (5, 6, vec![])
    );
    assert!(resolve_user(empty.path(), "app", &[]).is_err());
}

#[test]
fn user_lookup_never_leaves_the_rootfs() {
    let host = tempfile::tempdir().unwrap();
    let host_passwd = host.path().join("passwd");
    std::fs::write(&host_passwd, "evil:x:4242:4242::/:/bin/sh\n").unwrap();
    let host_group = host.path().join("group");
    std::fs::write(&host_group, "evilgrp:x:4343:\n").unwrap();

    let r = tempfile::tempdir().unwrap();
    std::fs::create_dir(r.path().join("etc")).unwrap();
    // absolute and relative links that point at the host's files
    symlink(&host_passwd, r.path().join("etc/passwd")).unwrap();
    let rel = format!("../../../../../../../../..{}", host_group.display());
    symlink(&rel, r.path().join("etc/group")).unwrap();
    assert!(resolve_user(r.path(), "evil", &[])
        .unwrap_err()
        .to_string()
        .contains("unable to find user evil"));
    assert!(resolve_user(r.path(), "0", &["evilgrp".into()]).is_err());

    // /etc itself a link out of the rootfs
    let r2 = tempfile::tempdir().unwrap();
    symlink(host.path(), r2.path().join("etc")).unwrap();
    assert!(resolve_user(r2.path(), "evil", &[]).is_err());

    // a link that stays inside is followed
    let r3 = rootfs();
    std::fs::rename(
        r3.path().join("etc/passwd"),
        r3.path().join("etc/passwd.real"),
    )
    .unwrap();
    symlink("/etc/passwd.real", r3.path().join("etc/passwd")).unwrap();
    assert_eq!(resolve_user(r3.path(), "app", &[]).unwrap().0, 1000);

    // a FIFO planted as /etc/passwd is not read (would block)
    let r4 = tempfile::tempdir().unwrap();
    std::fs::create_dir(r4.path().join("etc")).unwrap();
    nix::unistd::mkfifo(
        &r4.path().join("etc/passwd"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    assert!(resolve_user(r4.path(), "app", &[]).is_err());
    assert_eq!(resolve_user(r4.path(), "7", &[]).unwrap().0, 7);
}

#[test]
fn user_from_spec_generation() {
    let r = rootfs();
    let mut c = ctr();
    c.config.user = "app".into();
    c.host_config.group_add = vec!["docker".into()];
    let (v, _) = gen_with(&c, &context(r.path())).unwrap();
    assert_eq!(v["process"]["user"]["uid"], 1000);
    assert_eq!(v["process"]["user"]["gid"], 1000);
    assert_eq!(v["process"]["user"]["additionalGids"], json!([10, 29, 999]));
    c.config.user = "ghost".into();
    assert!(gen_with(&c, &context(r.path()))
        .unwrap_err()
        .to_string()
        .contains("unable to find user ghost"));
}
