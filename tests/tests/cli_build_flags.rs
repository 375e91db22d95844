//! `build`'s RUN-step flags (`--memory`, `--add-host`, `--ulimit`, `--cgroup-parent`...) reach
//! the RUN containers; `image build` and `builder build` are the same command; `builder prune`
//! forgets the step cache. Written against docker (`BERTH_TEST_ENGINE=docker`, classic
//! builder); needs root.

use berth_e2e::engine;

#[test]
fn run_steps_get_the_build_flags() {
    let e = engine!();
    let img = e.img().to_string();
    let ctx = e.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {img}\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /mem && grep buildhost /etc/hosts > /hosts && ulimit -n > /nofile\n"
        ),
    )
    .unwrap();
    let tag = e.image_name("bflags");
    let ctx_s = ctx.to_str().unwrap();
    for cmd in [
        &["build"][..],
        &["image", "build"][..],
        &["builder", "build"][..],
    ] {
        let mut a = cmd.to_vec();
        a.extend_from_slice(&[
            "-q",
            "--no-cache",
            "-t",
            &tag,
            "-m",
            "64m",
            "--add-host",
            "buildhost:10.1.2.3",
            "--ulimit",
            "nofile=123:123",
            "--compress",
            ctx_s,
        ]);
        e.ok(&a);
        let o = e.ok(&["run", "--rm", &tag, "sh", "-c", "cat /mem /hosts /nofile"]);
        let lines: Vec<&str> = o.lines().collect();
        assert_eq!(lines[0], (64u64 << 20).to_string(), "{cmd:?}: {o}");
        assert!(
            lines[1].starts_with("10.1.2.3") && lines[1].contains("buildhost"),
            "{o}"
        );
        assert_eq!(lines[2], "123", "{o}");
    }
    let o = e.cmd(&["build", "--squash", "-t", &tag, ctx_s]);
    assert_ne!(o.code, 0, "{o:?}");
    let o = e.ok(&["builder", "prune", "-f"]);
    assert!(o.contains("Total reclaimed space"), "{o}");
}
