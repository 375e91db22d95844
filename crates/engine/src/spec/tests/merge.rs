//! The image's config merged under the container's.

use super::*;

fn image() -> Value {
    json!({
        "architecture": "amd64",
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
            "Entrypoint": ["docker-entrypoint.sh"],
            "Cmd": ["postgres"],
            "WorkingDir": "/var/lib/pg",
            "User": "postgres",
            "StopSignal": "SIGINT",
            "Volumes": {"/var/lib/pg/data": {}},
            "ExposedPorts": {"5432/tcp": {}},
            "Labels": {"a": "image", "b": "image"},
            "Healthcheck": {"Test": ["CMD-SHELL", "pg_isready"], "Interval": 5000000000i64, "Retries": 3}
        }
    })
}

#[test]
fn merge_takes_image_defaults() {
    let mut cfg = Config::default();
    cfg.labels.insert("b".into(), "user".into());
    cfg.exposed_ports = Some([("80/tcp".to_string(), json!({}))].into());
    merge_image_config(&mut cfg, &image(), None, None);
    assert_eq!(cfg.entrypoint, Some(vec!["docker-entrypoint.sh".into()]));
    assert_eq!(cfg.cmd, Some(vec!["postgres".into()]));
    assert_eq!(cfg.working_dir, "/var/lib/pg");
    assert_eq!(cfg.user, "postgres");
    assert_eq!(cfg.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(cfg.labels["a"], "image");
    assert_eq!(cfg.labels["b"], "user");
    assert!(cfg
        .volumes
        .as_ref()
        .unwrap()
        .contains_key("/var/lib/pg/data"));
    let ports = cfg.exposed_ports.as_ref().unwrap();
    assert!(ports.contains_key("5432/tcp") && ports.contains_key("80/tcp"));
    assert_eq!(cfg.healthcheck.as_ref().unwrap().retries, 3);
    assert_eq!(
        path_and_args(&cfg).unwrap(),
        (
            "docker-entrypoint.sh".to_string(),
            vec!["postgres".to_string()]
        )
    );
}

#[test]
fn merge_env_overrides_by_key() {
    let mut cfg = Config {
        env: vec!["LANG=en_US.UTF-8".into(), "EXTRA=1".into()],
        ..Default::default()
    };
    merge_image_config(&mut cfg, &image(), None, None);
    assert_eq!(
        cfg.env,
        [
            "LANG=en_US.UTF-8",
            "EXTRA=1",
            "PATH=/usr/local/bin:/usr/bin:/bin"
        ]
    );
    let mut cfg = Config::default();
    merge_image_config(&mut cfg, &image(), None, None);
    assert_eq!(
        cfg.env,
        ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
    );
}

#[test]
fn merge_entrypoint_and_cmd_rules() {
    // the user's cmd replaces the image's, the image's entrypoint stays
    let mut cfg = Config::default();
    merge_image_config(
        &mut cfg,
        &image(),
        None,
        Some(vec!["-c".into(), "x".into()]),
    );
    assert_eq!(cfg.entrypoint, Some(vec!["docker-entrypoint.sh".into()]));
    assert_eq!(cfg.cmd, Some(vec!["-c".into(), "x".into()]));

    // an entrypoint override drops the image's cmd
    let mut cfg = Config::default();
    merge_image_config(&mut cfg, &image(), Some(vec!["/bin/sh".into()]), None);
    assert_eq!(cfg.entrypoint, Some(vec!["/bin/sh".into()]));
    assert_eq!(cfg.cmd, None);
    assert_eq!(path_and_args(&cfg).unwrap(), ("/bin/sh".into(), vec![]));

    // --entrypoint "" with a command runs the command
    let mut cfg = Config::default();
    merge_image_config(
        &mut cfg,
        &image(),
        Some(vec!["".into()]),
        Some(vec!["ls".into(), "-l".into()]),
    );
    assert_eq!(
        path_and_args(&cfg).unwrap(),
        ("ls".into(), vec!["-l".into()])
    );

    // --entrypoint "" alone leaves nothing to run
    let mut cfg = Config::default();
    merge_image_config(&mut cfg, &image(), Some(vec!["".into()]), None);
    assert_eq!(
        path_and_args(&cfg).unwrap_err().to_string(),
        "no command specified"
    );
    let mut cfg = Config::default();
    merge_image_config(&mut cfg, &image(), Some(vec![]), None);
    assert!(path_and_args(&cfg).is_err());

    // an image with neither
    let mut cfg = Config::default();
    merge_image_config(&mut cfg, &json!({"config": {"Env": []}}), None, None);
    assert!(path_and_args(&cfg).is_err());
}

#[test]
fn merge_healthcheck_fields() {
    let mut cfg = Config {
        healthcheck: Some(HealthConfig {
            interval: 1_000_000_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    merge_image_config(&mut cfg, &image(), None, None);
    let hc = cfg.healthcheck.unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "pg_isready"]);
    assert_eq!(hc.interval, 1_000_000_000);
    assert_eq!(hc.retries, 3);
}

#[test]
fn tmpfs_merge_rules() {
    let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        merge_tmpfs_options(&o(&["noexec", "size=1m", "exec", "size=2m", "defaults"])).unwrap(),
        ["exec", "size=2m"]
    );
    assert!(merge_tmpfs_options(&o(&["mode=999"])).is_err());
    assert!(merge_tmpfs_options(&o(&["size=50%", "uid=1", "nr_inodes=1k"])).is_ok());
}
