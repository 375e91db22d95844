use super::cp::*;
use super::stats::*;
use super::system::*;
use super::*;

#[test]
fn cp_args() {
    assert_eq!(
        split_cp_arg("c1:/etc/x"),
        CpPath::Container("c1".into(), "/etc/x".into())
    );
    assert_eq!(split_cp_arg("/tmp/a:b"), CpPath::Local("/tmp/a:b".into()));
    assert_eq!(split_cp_arg("./a:b"), CpPath::Local("./a:b".into()));
    assert_eq!(split_cp_arg("file"), CpPath::Local("file".into()));
    assert_eq!(split_cp_arg("-"), CpPath::Local("-".into()));
}

fn plan(dir: &str, name: &str) -> std::result::Result<CopyPlan, String> {
    Ok(CopyPlan {
        dir: dir.into(),
        name: name.into(),
    })
}

#[test]
fn cp_rules() {
    use DstState::*;
    // file into an existing dir keeps its name
    assert_eq!(
        plan_copy(false, false, "f", "/d", Dir, None),
        plan("/d", "f")
    );
    // file over a file, or to a new name
    assert_eq!(
        plan_copy(false, false, "f", "/d/g", File, None),
        plan("/d", "g")
    );
    assert_eq!(
        plan_copy(false, false, "f", "/d/new", Missing, Some(true)),
        plan("/d", "new")
    );
    // a new name ending in / must be an existing dir
    assert_eq!(
        plan_copy(false, false, "f", "/d/new/", Missing, Some(true)),
        Err("no such directory".into())
    );
    assert_eq!(
        plan_copy(false, false, "f", "/nope/x", Missing, None),
        Err("no such directory".into())
    );
    assert_eq!(
        plan_copy(false, false, "f", "/file/x", Missing, Some(false)),
        Err("not a directory".into())
    );
    assert_eq!(
        plan_copy(false, false, "f", "/d/g/", File, None),
        Err("not a directory".into())
    );
    // dirs: into an existing dir, content with /., new name, never over a file
    assert_eq!(
        plan_copy(true, false, "src", "/d", Dir, None),
        plan("/d", "src")
    );
    assert_eq!(
        plan_copy(true, true, "src", "/d", Dir, None),
        plan("/d", "")
    );
    assert_eq!(
        plan_copy(true, false, "src", "/d/new", Missing, Some(true)),
        plan("/d", "new")
    );
    assert_eq!(
        plan_copy(true, false, "src", "/d/new/", Missing, Some(true)),
        plan("/d", "new")
    );
    assert_eq!(
        plan_copy(true, false, "src", "/d/f", File, None),
        Err("cannot copy a directory to a file".into())
    );
    assert_eq!(
        plan_copy(false, false, "f", "x", Missing, Some(true)),
        plan(".", "x")
    );
    assert_eq!(base_of("/a/b/."), ".");
    assert!(is_content("/a/b/."));
    assert!(!is_content("/a/b"));
    assert_eq!(split_dir_entry("/etc/"), ("/".into(), "etc".into()));
}

#[test]
fn sizes() {
    assert_eq!(bytes_size(0), "0B");
    assert_eq!(bytes_size(64 << 20), "64MiB");
    assert_eq!(bytes_size(1_048_576 + 524_288), "1.5MiB");
    assert_eq!(bytes_size(2_000_000), "1.907MiB");
    assert_eq!(bytes_size(1023), "1023B");
    assert_eq!(go_g(123.456, 4), "123.5");
}

#[test]
fn stats_rows() {
    let v = json!({
        "id": "0123456789abcdef", "name": "/web",
        "cpu_stats": {"cpu_usage": {"total_usage": 2u64}, "system_cpu_usage": 4u64, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1u64}, "system_cpu_usage": 2u64},
        "memory_stats": {"usage": 1u64 << 20, "limit": 64u64 << 20, "stats": {}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096}]},
        "pids_stats": {"current": 1}
    });
    let r = stats_row(&v, None, false, true);
    assert_eq!(r["ID"], "0123456789ab");
    assert_eq!(r["Name"], "web");
    assert_eq!(r["CPUPerc"], "100.00%");
    assert_eq!(r["MemUsage"], "1MiB / 64MiB");
    assert_eq!(r["MemPerc"], "1.56%");
    assert_eq!(r["NetIO"], "0B / 0B");
    assert_eq!(r["BlockIO"], "4.1kB / 0B");
    assert_eq!(r["PIDs"], "1");
}

#[test]
fn top_layout() {
    let t = top_table(
        &["UID".into(), "PID".into(), "CMD".into()],
        &[vec!["root".into(), "1".into(), "sleep 1000".into()]],
    );
    assert_eq!(
        t,
        format!(
            "UID{}PID{}CMD\nroot{}1{}sleep 1000\n",
            " ".repeat(17),
            " ".repeat(17),
            " ".repeat(16),
            " ".repeat(19)
        )
    );
}

#[test]
fn df_summary() {
    let d = json!({
        "LayersSize": 1000,
        "Images": [{"Size": 600, "SharedSize": 0, "Containers": 1}, {"Size": 400, "SharedSize": 0, "Containers": 0}],
        "Containers": [{"State": "running", "SizeRw": 10}, {"State": "exited", "SizeRw": 30}],
        "Volumes": [],
    });
    let r = df_rows(&d);
    assert_eq!(r[0]["Reclaimable"], "400B (40%)");
    assert_eq!(r[0]["Active"], "1");
    assert_eq!(r[1]["Reclaimable"], "30B (75%)");
    assert_eq!(r[2]["Size"], "0B");
    assert_eq!(r[3]["Type"], "Build Cache");
}
