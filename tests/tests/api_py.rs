//! docker-py (Debian's python3-docker 5) through the Docker Engine API:
//! `berth serve`, or a private dockerd with `BERTH_TEST_ENGINE=docker`.
//! The assertions live in tests/api/dockerpy_smoke.py (containers, images,
//! volumes, networks); this runs it against a fresh server and wants exit 0
//! and its closing `ALL OK`.  Needs root and python3-docker.

use std::process::Command;
use std::time::Duration;

use berth_e2e::api_server;
use berth_e2e::cmd::Stdin;
use berth_e2e::runtime::workspace_root;

/// Debian's python3 (python3-docker is installed for it, not for a pyenv or
/// venv python that may come first on PATH).
const PYTHON: &str = "/usr/bin/python3";

#[test]
fn dockerpy_smoke() {
    let s = api_server!();
    let check = Command::new(PYTHON)
        .args(["-c", "import docker"])
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        check.status.success(),
        "python3-docker missing: apt-get install python3-docker: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    s.busybox();
    let script = workspace_root().join("tests/api/dockerpy_smoke.py");
    let mut c = s.command(PYTHON);
    c.arg(&script).arg(&s.host);
    let o = s.run(c, Stdin::Null, Duration::from_secs(150));
    assert!(
        o.success() && o.stdout.trim_end().ends_with("ALL OK"),
        "dockerpy_smoke.py failed: {o:?}"
    );
}
