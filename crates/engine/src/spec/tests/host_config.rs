//! HostConfig settings (and the defaults) turned into the OCI spec.

use super::*;

#[test]
fn default_container_is_dockers() {
    let v = gen(&ctr());
    let defaults: BTreeSet<String> = seccomp::DOCKER_DEFAULT_CAPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(defaults.len(), 14);
    for set in ["bounding", "effective", "permitted"] {
        assert_eq!(cap_set(&v, set), defaults, "{set}");
    }
    assert!(v["process"]["capabilities"].get("inheritable").is_none());
    assert!(v["process"]["capabilities"].get("ambient").is_none());
    assert_eq!(strings(&v["process"]["args"]), ["sh"]);
    assert_eq!(
        strings(&v["process"]["env"]),
        [format!("PATH={DEFAULT_PATH}"), "HOSTNAME=c0ffee".into()]
    );
    assert_eq!(v["process"]["cwd"], "/");
    assert_eq!(v["process"]["terminal"], false);
    assert_eq!(v["process"]["user"]["uid"], 0);
    assert_eq!(v["process"]["user"]["gid"], 0);
    assert_eq!(v["process"]["oomScoreAdj"], 0);
    assert_ne!(v["process"]["noNewPrivileges"], true);
    assert_eq!(v["hostname"], "c0ffee");
    assert_eq!(v["root"]["readonly"], false);
    assert_eq!(
        mount_dests(&v),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm"
        ]
    );
    let shm = strings(&mount_of(&v, "/dev/shm").unwrap()["options"]);
    assert!(shm.contains(&"size=67108864".to_string()), "{shm:?}");
    assert!(strings(&mount_of(&v, "/sys").unwrap()["options"]).contains(&"ro".into()));
    assert!(strings(&mount_of(&v, "/sys/fs/cgroup").unwrap()["options"]).contains(&"ro".into()));
    assert_eq!(strings(&v["linux"]["maskedPaths"]), MASKED_PATHS);
    assert_eq!(strings(&v["linux"]["readonlyPaths"]), READONLY_PATHS);
    let ns: BTreeSet<String> = ns_types(&v).into_iter().collect();
    let want: BTreeSet<String> = ["mount", "network", "uts", "pid", "ipc"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ns, want);
    assert_eq!(v["linux"]["cgroupsPath"], "/berth/abc");
    let devices = v["linux"]["resources"]["devices"].as_array().unwrap();
    assert_eq!(devices[0]["allow"], false);
    assert_eq!(devices[0]["access"], "rwm");
    assert!(devices
        .iter()
        .any(|d| d["allow"] == true && d["major"] == 1 && d["minor"] == 3));
    assert!(v["linux"]["seccomp"]["defaultAction"].is_string());
    assert!(!v["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(v["linux"]["resources"].get("memory").is_none());
    assert!(v["linux"]["resources"].get("pids").is_none());
}

#[test]
fn memory_and_swap() {
    let mib = 1024 * 1024;
    let v = gen(&with_hc(|h| h.memory = 128 * mib));
    assert_eq!(v["linux"]["resources"]["memory"]["limit"], 128 * mib);
    assert_eq!(v["linux"]["resources"]["memory"]["swap"], 256 * mib);
    let v = gen(&with_hc(|h| {
        h.memory = 128 * mib;
        h.memory_swap = -1
    }));
    assert_eq!(v["linux"]["resources"]["memory"]["swap"], -1);
    let v = gen(&with_hc(|h| {
        h.memory = 128 * mib;
        h.memory_swap = 200 * mib;
        h.memory_reservation = 64 * mib;
        h.oom_kill_disable = Some(true);
    }));
    let m = &v["linux"]["resources"]["memory"];
    assert_eq!(m["swap"], 200 * mib);
    assert_eq!(m["reservation"], 64 * mib);
    assert_eq!(m["disableOOMKiller"], true);

    assert_eq!(
        gen_err(&with_hc(|h| h.memory = mib)),
        "Minimum memory limit allowed is 6MB"
    );
    assert!(gen_err(&with_hc(|h| h.memory_swap = 200 * mib)).contains("Memory limit"));
    assert!(gen_err(&with_hc(|h| {
        h.memory = 64 * mib;
        h.memory_swap = 32 * mib
    }))
    .contains("memoryswap"));
    assert!(gen_err(&with_hc(|h| {
        h.memory = 64 * mib;
        h.memory_reservation = 128 * mib
    }))
    .contains("reservation"));

    let mut hc = HostConfig {
        memory: 64 * mib,
        pids_limit: Some(0),
        ..Default::default()
    };
    adapt_host_config(&mut hc);
    assert_eq!(hc.memory_swap, 128 * mib);
    assert_eq!(hc.shm_size, DEFAULT_SHM_SIZE);
    assert_eq!(hc.pids_limit, None);

    let dir = tempfile::tempdir().unwrap();
    let (_, w) = gen_with(
        &with_hc(|h| h.oom_kill_disable = Some(true)),
        &context(dir.path()),
    )
    .unwrap();
    assert!(w[0].contains("OOM killer is disabled"), "{w:?}");
}

#[test]
fn cpus_shares_cpuset_pids() {
    let v = gen(&with_hc(|h| {
        h.nano_cpus = 1_500_000_000.min(online_cpus() * 1_000_000_000)
    }));
    let cpu = &v["linux"]["resources"]["cpu"];
    assert_eq!(cpu["period"], 100_000);
    let want = 1_500_000_000.min(online_cpus() * 1_000_000_000) * 100_000 / 1_000_000_000;
    assert_eq!(cpu["quota"], want);
    let v = gen(&with_hc(|h| h.nano_cpus = 500_000_000));
    assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50_000);

    let v = gen(&with_hc(|h| {
        h.cpu_period = 50_000;
        h.cpu_quota = 25_000;
        h.cpu_shares = 512;
        h.cpuset_cpus = "0".into();
        h.cpuset_mems = "0".into();
    }));
    let cpu = &v["linux"]["resources"]["cpu"];
    assert_eq!(cpu["period"], 50_000);
    assert_eq!(cpu["quota"], 25_000);
    assert_eq!(cpu["shares"], 512);
    assert_eq!(cpu["cpus"], "0");
    assert_eq!(cpu["mems"], "0");

    assert!(gen_err(&with_hc(|h| {
        h.nano_cpus = 500_000_000;
        h.cpu_quota = 50_000
    }))
    .contains("Conflicting options: Nano CPUs and CPU Quota"));
    assert!(gen_err(&with_hc(|h| h.nano_cpus = 10_000 * 1_000_000_000)).contains("Range of CPUs"));
    assert!(gen_err(&with_hc(|h| h.cpuset_cpus = "0-x".into())).contains("cpuset cpus"));
    assert!(gen_err(&with_hc(|h| h.cpu_period = 10)).contains("CPU cfs period"));

    let dir = tempfile::tempdir().unwrap();
    let (v, w) = gen_with(&with_hc(|h| h.cpu_shares = 1), &context(dir.path())).unwrap();
    assert_eq!(v["linux"]["resources"]["cpu"]["shares"], 2);
    assert!(w[0].contains("CPUShares"));

    let v = gen(&with_hc(|h| h.pids_limit = Some(100)));
    assert_eq!(v["linux"]["resources"]["pids"]["limit"], 100);
    for p in [0, -1] {
        let v = gen(&with_hc(|h| h.pids_limit = Some(p)));
        assert!(v["linux"]["resources"].get("pids").is_none());
    }
}

fn caps_of(f: impl FnOnce(&mut HostConfig)) -> BTreeSet<String> {
    cap_set(&gen(&with_hc(f)), "bounding")
}

#[test]
fn cap_add_and_drop() {
    let caps = caps_of(|h| {
        h.cap_add = vec!["net_admin".into(), "CAP_SYS_TIME".into()];
        h.cap_drop = vec!["chown".into(), "cap_kill".into()];
    });
    assert!(caps.contains("CAP_NET_ADMIN") && caps.contains("CAP_SYS_TIME"));
    assert!(!caps.contains("CAP_CHOWN") && !caps.contains("CAP_KILL"));
    assert_eq!(caps.len(), 14);

    let caps = caps_of(|h| {
        h.cap_add = vec!["all".into()];
        h.cap_drop = vec!["MKNOD".into()];
    });
    assert_eq!(caps.len(), runtime::spec::KNOWN_CAPS.len() - 1);
    assert!(!caps.contains("CAP_MKNOD") && caps.contains("CAP_SYS_ADMIN"));

    let v = gen(&with_hc(|h| {
        h.cap_drop = vec!["ALL".into()];
        h.cap_add = vec!["CHOWN".into()];
    }));
    assert_eq!(
        cap_set(&v, "effective"),
        ["CAP_CHOWN".to_string()].into_iter().collect()
    );
    // the seccomp profile follows the final capability set
    assert!(v["linux"]["seccomp"].is_object());
    assert!(caps_of(|h| h.cap_drop = vec!["ALL".into()]).is_empty());

    let e = gen_err(&with_hc(|h| h.cap_add = vec!["NOPE".into()]));
    assert_eq!(e, "unknown capability: \"CAP_NOPE\"");
}

#[test]
fn privileged() {
    let v = gen(&with_hc(|h| h.privileged = true));
    assert_eq!(
        cap_set(&v, "bounding").len(),
        runtime::spec::KNOWN_CAPS.len()
    );
    assert_eq!(
        cap_set(&v, "permitted").len(),
        runtime::spec::KNOWN_CAPS.len()
    );
    assert!(v["linux"].get("maskedPaths").is_none());
    assert!(v["linux"].get("readonlyPaths").is_none());
    assert!(v["linux"].get("seccomp").is_none());
    let sys = strings(&mount_of(&v, "/sys").unwrap()["options"]);
    assert!(sys.contains(&"rw".into()) && !sys.contains(&"ro".into()));
    let cg = strings(&mount_of(&v, "/sys/fs/cgroup").unwrap()["options"]);
    assert!(!cg.contains(&"ro".into()));
    let rules = v["linux"]["resources"]["devices"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["allow"], true);
    assert_eq!(rules[0]["access"], "rwm");
    // the host's devices are passed in (/dev/null exists everywhere)
    let devs = v["linux"]["devices"].as_array().unwrap();
    assert!(devs.iter().any(|d| d["path"] == "/dev/null"), "{devs:?}");
    assert!(!devs.iter().any(|d| d["path"] == "/dev/console"));
}

#[test]
fn readonly_rootfs_hostname_tty_workdir() {
    let mut c = with_hc(|h| h.readonly_rootfs = true);
    c.config.tty = true;
    c.config.domainname = "example.org".into();
    c.config.working_dir = "/srv/app/".into();
    c.config.env = vec!["PATH=/opt/bin".into(), "A=1".into()];
    let v = gen(&c);
    assert_eq!(v["root"]["readonly"], true);
    assert_eq!(v["process"]["terminal"], true);
    assert_eq!(v["domainname"], "example.org");
    assert_eq!(v["process"]["cwd"], "/srv/app");
    assert_eq!(
        strings(&v["process"]["env"]),
        ["PATH=/opt/bin", "HOSTNAME=c0ffee", "TERM=xterm", "A=1"]
    );
    c.config.working_dir = "rel".into();
    assert!(gen_err(&c).contains("needs to be an absolute path"));
}

#[test]
fn tmpfs_options() {
    let mut c = with_hc(|h| {
        h.tmpfs.insert("/run".into(), "".into());
        h.tmpfs
            .insert("/tmp".into(), "exec,size=64m,mode=1777".into());
        h.tmpfs.insert("/dev/shm".into(), "size=1g".into());
    });
    let v = gen(&c);
    assert_eq!(
        strings(&mount_of(&v, "/run").unwrap()["options"]),
        ["noexec", "nosuid", "nodev", "rprivate"]
    );
    let tmp = mount_of(&v, "/tmp").unwrap();
    assert_eq!(tmp["type"], "tmpfs");
    assert_eq!(
        strings(&tmp["options"]),
        [
            "nosuid",
            "nodev",
            "rprivate",
            "exec",
            "size=64m",
            "mode=1777"
        ]
    );
    // a user mount replaces docker's own /dev/shm
    let shm: Vec<_> = mount_dests(&v)
        .into_iter()
        .filter(|d| d == "/dev/shm")
        .collect();
    assert_eq!(shm.len(), 1);
    assert!(strings(&mount_of(&v, "/dev/shm").unwrap()["options"]).contains(&"size=1g".to_string()));

    c.host_config.tmpfs.insert("/x".into(), "size=lots".into());
    assert_eq!(gen_err(&c), "invalid tmpfs option \"size=lots\"");
    c.host_config.tmpfs.remove("/x");
    c.host_config.tmpfs.insert("/y".into(), "bogus".into());
    assert!(gen_err(&c).contains("invalid tmpfs option"));
    c.host_config.tmpfs.remove("/y");
    c.host_config.tmpfs.insert("rel".into(), "".into());
    assert!(gen_err(&c).contains("must be absolute"));
    c.host_config.tmpfs.remove("rel");
    c.host_config.tmpfs.insert("/".into(), "".into());
    assert!(gen_err(&c).contains("can't be '/'"));
}

#[test]
fn binds_are_ordered_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(dir.path());
    ctx.mounts = vec![
        ResolvedMount {
            destination: "/data/cache".into(),
            source: MountSource::Bind("/var/lib/berth/volumes/c/_data".into()),
            readonly: false,
            options: vec![],
        },
        ResolvedMount {
            destination: "/data".into(),
            source: MountSource::Bind("/srv/data".into()),
            readonly: true,
            options: vec!["rslave".into()],
        },
        ResolvedMount {
            destination: "/etc/hosts".into(),
            source: MountSource::Bind("/var/lib/berth/c/hosts".into()),
            readonly: false,
            options: vec![],
        },
        ResolvedMount {
            destination: "/scratch".into(),
            source: MountSource::Tmpfs {
                options: vec!["size=1m".into()],
            },
            readonly: true,
            options: vec![],
        },
    ];
    let c = with_hc(|h| {
        h.tmpfs.insert("/data/cache/tmp".into(), "".into());
    });
    let (v, _) = gen_with(&c, &ctx).unwrap();
    let dests = mount_dests(&v);
    let pos = |d: &str| dests.iter().position(|x| x == d).unwrap();
    assert!(pos("/data") < pos("/data/cache"));
    assert!(pos("/data/cache") < pos("/data/cache/tmp"));
    assert!(pos("/dev/shm") < pos("/data"));
    let data = mount_of(&v, "/data").unwrap();
    assert_eq!(data["type"], "bind");
    assert_eq!(data["source"], "/srv/data");
    assert_eq!(strings(&data["options"]), ["rbind", "ro", "rslave"]);
    assert_eq!(
        strings(&mount_of(&v, "/etc/hosts").unwrap()["options"]),
        ["rbind", "rprivate"]
    );
    let scratch = strings(&mount_of(&v, "/scratch").unwrap()["options"]);
    assert!(scratch.contains(&"ro".into()) && scratch.contains(&"size=1m".into()));
    assert_eq!(v["linux"]["rootfsPropagation"], "rslave");
}

#[test]
fn security_opts() {
    for opt in [
        "no-new-privileges",
        "no-new-privileges:true",
        "no-new-privileges=true",
    ] {
        let v = gen(&with_hc(|h| h.security_opt = vec![opt.into()]));
        assert_eq!(v["process"]["noNewPrivileges"], true, "{opt}");
    }
    let v = gen(&with_hc(|h| {
        h.security_opt = vec!["no-new-privileges=false".into()]
    }));
    assert_ne!(v["process"]["noNewPrivileges"], true);

    let v = gen(&with_hc(|h| {
        h.security_opt = vec!["seccomp=unconfined".into()]
    }));
    assert!(v["linux"].get("seccomp").is_none());

    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let v = gen(&with_hc(|h| {
        h.security_opt = vec![format!("seccomp={}", good.display())]
    }));
    assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
    // the docker CLI sends the profile inline
    let v = gen(&with_hc(|h| {
        h.security_opt = vec![format!(
            "seccomp={}",
            std::fs::read_to_string(&good).unwrap()
        )]
    }));
    assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
    let e = gen_err(&with_hc(|h| {
        h.security_opt = vec![format!("seccomp={}", bad.display())]
    }));
    assert!(e.contains(&bad.display().to_string()), "{e}");
    let missing = dir.path().join("missing.json");
    let e = gen_err(&with_hc(|h| {
        h.security_opt = vec![format!("seccomp={}", missing.display())]
    }));
    assert!(e.contains(&missing.display().to_string()), "{e}");

    assert_eq!(
        gen_err(&with_hc(|h| h.security_opt = vec!["foo=bar".into()])),
        "invalid --security-opt: \"foo=bar\""
    );
    assert_eq!(
        gen_err(&with_hc(|h| h.security_opt = vec!["x".into()])),
        "invalid --security-opt: \"x\""
    );
    assert!(gen_err(&with_hc(
        |h| h.security_opt = vec!["no-new-privileges=maybe".into()]
    ))
    .contains("invalid --security-opt"));

    let v = gen(&with_hc(|h| {
        h.security_opt = vec!["systempaths=unconfined".into(), "label=disable".into()]
    }));
    assert!(v["linux"].get("maskedPaths").is_none());
    assert!(v["linux"]["seccomp"].is_object());

    // confinement the host cannot apply: refused, never dropped
    let v = gen(&with_hc(|h| {
        h.security_opt = vec!["apparmor=unconfined".into()]
    }));
    assert!(v["process"].get("apparmorProfile").is_none());
    assert!(
        gen_err(&with_hc(|h| h.security_opt = vec!["label=type:x_t".into()])).contains("SELinux")
    );
    if !runtime::lsm::apparmor_enabled() {
        let e = gen_err(&with_hc(|h| h.security_opt = vec!["apparmor=p".into()]));
        assert!(e.contains("AppArmor is not enabled"), "{e}");
    }
}

#[test]
fn init_wraps_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(dir.path());
    ctx.init_binary = Some("/usr/libexec/berth/tini-static".into());
    let mut c = with_hc(|h| h.init = Some(true));
    c.config.cmd = Some(vec!["sleep".into(), "1".into()]);
    let (v, _) = gen_with(&c, &ctx).unwrap();
    assert_eq!(
        strings(&v["process"]["args"]),
        [INIT_PATH, "--", "sleep", "1"]
    );
    let m = mount_of(&v, INIT_PATH).unwrap();
    assert_eq!(m["source"], "/usr/libexec/berth/tini-static");
    assert!(strings(&m["options"]).contains(&"ro".into()));
    ctx.init_binary = None;
    assert!(gen_with(&c, &ctx).unwrap_err().to_string().contains("init"));
}

#[test]
fn network_and_other_namespaces() {
    let v = gen(&with_hc(|h| h.network_mode = "host".into()));
    assert!(!ns_types(&v).contains(&"network".into()));
    let v = gen(&with_hc(|h| h.network_mode = "none".into()));
    assert!(ns_types(&v).contains(&"network".into()));
    let v = gen(&with_hc(|h| {
        h.pid_mode = "host".into();
        h.ipc_mode = "host".into();
        h.uts_mode = "host".into();
    }));
    assert_eq!(ns_types(&v), ["mount", "network"]);
    assert!(v.get("hostname").is_none());
    assert_eq!(mount_of(&v, "/dev/shm").unwrap()["type"], "bind");
    let v = gen(&with_hc(|h| h.ipc_mode = "none".into()));
    assert!(mount_of(&v, "/dev/shm").is_none());

    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(dir.path());
    let c = with_hc(|h| h.network_mode = "container:web".into());
    assert!(gen_with(&c, &ctx)
        .unwrap_err()
        .to_string()
        .contains("non running container"));
    ctx.join_netns = Some("/proc/42/ns/net".into());
    let (v, _) = gen_with(&c, &ctx).unwrap();
    let net = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "network")
        .unwrap()
        .clone();
    assert_eq!(net["path"], "/proc/42/ns/net");
    assert!(gen_err(&with_hc(|h| h.ipc_mode = "weird".into())).contains("invalid IPC mode"));
}

#[test]
fn ulimits_and_sysctls() {
    let v = gen(&with_hc(|h| {
        h.ulimits = vec![
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            },
            Ulimit {
                name: "nproc".into(),
                soft: -1,
                hard: -1,
            },
        ]
    }));
    let r = v["process"]["rlimits"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["type"], "RLIMIT_NOFILE");
    assert_eq!(r[0]["soft"], 1024);
    assert_eq!(r[0]["hard"], 2048);
    assert_eq!(r[1]["type"], "RLIMIT_NPROC");
    assert_eq!(r[1]["hard"], u64::MAX);
    // `as` is not in docker's table (nor in the one the CLI checks its flag against)
    assert!(!ULIMIT_NAMES.contains(&"as"));
    assert_eq!(
        gen_err(&with_hc(|h| h.ulimits = vec![Ulimit {
            name: "as".into(),
            soft: 1 << 30,
            hard: 1 << 30
        }])),
        "invalid ulimit type: as"
    );
    assert_eq!(
        gen_err(&with_hc(|h| h.ulimits = vec![Ulimit {
            name: "bogus".into(),
            soft: 1,
            hard: 1
        }])),
        "invalid ulimit type: bogus"
    );
    assert!(gen_err(&with_hc(|h| h.ulimits = vec![Ulimit {
        name: "nofile".into(),
        soft: 10,
        hard: 1
    }]))
    .contains("soft limit must be less than or equal to hard limit"));
    let v = gen(&ctr());
    assert!(v["process"]
        .get("rlimits")
        .map(|r| r.as_array().unwrap().is_empty())
        .unwrap_or(true));

    let v = gen(&with_hc(|h| {
        h.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
        h.sysctls.insert("kernel.shmmax".into(), "1000000".into());
    }));
    assert_eq!(v["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
    assert_eq!(
        gen_err(&with_hc(|h| {
            h.sysctls.insert("kernel.panic".into(), "1".into());
        })),
        "sysctl 'kernel.panic' is not allowed"
    );
    assert!(gen_err(&with_hc(|h| {
        h.network_mode = "host".into();
        h.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
    }))
    .contains("host network namespace"));
    assert!(gen_err(&with_hc(|h| h.oom_score_adj = 5000)).contains("oom score adj"));
    let v = gen(&with_hc(|h| h.oom_score_adj = 500));
    assert_eq!(v["process"]["oomScoreAdj"], 500);
}
