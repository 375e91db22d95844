//! `berth serve`'s volumes, networks, events and TLS, driven by the real docker CLI (as root:
//! each test starts its own `berth serve` on a temp state root and socket; skipped without
//! root or without `docker` on PATH). The berth binary: `$BERTH_BIN`, else
//! `$CARGO_TARGET_DIR/debug/berth`, else `<workspace>/target/debug/berth`.

use berth_e2e::api::which;
use berth_e2e::engine::{berth_bin, pids_with_cmdline};
use berth_e2e::runtime::workspace_root;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why this machine cannot run these tests, if it cannot.
fn unsupported() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    for tool in ["docker", "openssl", "busybox"] {
        if which(tool).is_none() && !Path::new("/bin").join(tool).is_file() {
            return Some(format!("needs {tool}"));
        }
    }
    let b = berth_bin();
    if !b.is_file() {
        return Some(format!(
            "no berth binary at {} (cargo build -p berth-cli)",
            b.display()
        ));
    }
    None
}

macro_rules! server {
    () => {
        match unsupported() {
            Some(why) => {
                eprintln!("skipped: {why}");
                return;
            }
            None => Server::start(&[]),
        }
    };
}

fn unique() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

fn now_secs() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// One `berth serve` on its own root and socket; dropping it removes what the test made.
struct Server {
    dir: PathBuf,
    root: PathBuf,
    sock: PathBuf,
    child: Option<Child>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(cmd: &mut Command) -> Run {
    let o: Output = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl Server {
    /// `extra`: more `serve` arguments (more `-H`, TLS flags).
    fn start(extra: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("berth-objects-{}", unique()));
        std::fs::create_dir_all(dir.join("docker-config")).unwrap();
        let root = dir.join("root");
        let sock = dir.join("api.sock");
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let child = Command::new(berth_bin())
            .arg("--root")
            .arg(&root)
            .arg("serve")
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn berth serve");
        let mut s = Server {
            dir,
            root,
            sock,
            child: Some(child),
        };
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&s.sock).is_err() {
            if let Some(st) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("berth serve exited ({st}):\n{}", s.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "berth serve did not listen:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    fn docker_cmd(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        c
    }

    fn docker(&self, args: &[&str]) -> Run {
        run(self.docker_cmd().args(args))
    }

    #[track_caller]
    fn docker_ok(&self, args: &[&str]) -> String {
        let r = self.docker(args);
        assert_eq!(
            r.code,
            0,
            "docker {args:?}: {r:?}\nserver log:\n{}",
            self.log()
        );
        r.stdout
    }

    #[track_caller]
    fn docker_fails(&self, args: &[&str]) -> Run {
        let r = self.docker(args);
        assert_ne!(r.code, 0, "docker {args:?} succeeded: {r:?}");
        r
    }

    #[track_caller]
    fn inspect(&self, args: &[&str]) -> Value {
        let out = self.docker_ok(args);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        v[0].clone()
    }

    fn berth(&self, args: &[&str]) -> Run {
        run(Command::new(berth_bin())
            .arg("--root")
            .arg(&self.root)
            .args(args))
    }

    #[track_caller]
    fn berth_ok(&self, args: &[&str]) -> String {
        let r = self.berth(args);
        assert_eq!(r.code, 0, "berth {args:?}: {r:?}");
        r.stdout
    }

    /// A busybox image named `bb` in the server's root (the host's busybox-static).
    fn busybox(&self) -> &'static str {
        let tar = self.dir.join("busybox.tar");
        let r = run(Command::new("bash")
            .arg(workspace_root().join("scripts/busybox-image.sh"))
            .arg(&tar));
        assert_eq!(r.code, 0, "busybox-image.sh: {r:?}");
        self.berth_ok(&[
            "import",
            "--change",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            "bb",
        ]);
        "bb"
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let ids = self.berth(&["ps", "-aq"]).stdout;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.berth(&args);
        }
        self.berth(&["network", "prune", "-f"]);
        if let Some(mut c) = self.child.take() {
            // SAFETY: a signal to the child we started.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // helpers started for the root (a network's DNS server) go too
        for pid in pids_with_cmdline(&self.dir.to_string_lossy()) {
            // SAFETY: a signal to a process of this test's root.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if std::env::var_os("BERTH_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn is_rfc3339(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' && s.ends_with('Z')
}

#[test]
fn volumes_create_ls_inspect_rm_prune() {
    let s = server!();
    assert_eq!(
        s.docker_ok(&["volume", "create", "--label", "tier=db", "data1"])
            .trim(),
        "data1"
    );
    let anon = s.docker_ok(&["volume", "create"]).trim().to_string();
    assert_eq!(anon.len(), 64, "an anonymous name is 64 hex: {anon}");
    let v = s.inspect(&["volume", "inspect", "data1"]);
    assert_eq!(v["Name"], "data1");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["tier"], "db");
    assert!(v["Options"].is_null(), "{v}");
    assert!(is_rfc3339(v["CreatedAt"].as_str().unwrap()), "{v}");
    let mp = v["Mountpoint"].as_str().unwrap();
    assert!(
        mp.starts_with(s.root.to_str().unwrap()) && mp.ends_with("/volumes/data1/_data"),
        "{mp}"
    );
    assert!(Path::new(mp).is_dir());

    let ls = s.docker_ok(&["volume", "ls", "--format", "{{.Driver}} {{.Name}}"]);
    assert!(ls.lines().any(|l| l == "local data1"), "{ls}");
    let f = s.docker_ok(&["volume", "ls", "-q", "--filter", "label=tier=db"]);
    assert_eq!(f.trim(), "data1");
    let f = s.docker_ok(&["volume", "ls", "-q", "--filter", "name=ata"]);
    assert_eq!(f.trim(), "data1");
    let o = s.docker_fails(&["volume", "ls", "--filter", "bogus=1"]);
    assert!(o.stderr.contains("invalid filter"), "{o:?}");
    let o = s.docker_fails(&["volume", "inspect", "nope"]);
    assert!(o.stderr.contains("no such volume"), "{o:?}");
    let o = s.docker_fails(&["volume", "create", "-d", "nfsplugin", "x1"]);
    assert!(o.stderr.contains("plugin"), "{o:?}");

    // used by a container the CLI created: not dangling, refused with its id, kept by prune
    s.busybox();
    let cid = s
        .berth_ok(&["create", "--name", "holder", "-v", "data1:/d", "bb", "true"])
        .trim()
        .to_string();
    let dangling = s.docker_ok(&["volume", "ls", "-q", "--filter", "dangling=true"]);
    assert!(
        !dangling.contains("data1") && dangling.contains(&anon),
        "{dangling}"
    );
    let o = s.docker_fails(&["volume", "rm", "data1"]);
    assert!(
        o.stderr.contains("volume is in use") && o.stderr.contains(&cid),
        "{o:?}"
    );
    let out = s.docker_ok(&["volume", "prune", "-f", "--all"]);
    assert!(out.contains(&anon) && !out.contains("data1"), "{out}");
    s.berth_ok(&["rm", "holder"]);

    // prune without --all keeps named volumes (API >= 1.42); label filters select
    s.docker_ok(&["volume", "create", "--label", "keep=1", "data2"]);
    let out = s.docker_ok(&["volume", "prune", "-f"]);
    assert!(!out.contains("data1"), "{out}");
    let out = s.docker_ok(&["volume", "prune", "-f", "-a", "--filter", "label=tier=db"]);
    assert!(out.contains("data1") && !out.contains("data2"), "{out}");
    assert_eq!(s.docker_ok(&["volume", "rm", "data2"]).trim(), "data2");
    assert_eq!(s.docker_ok(&["volume", "ls", "-q"]).trim(), "");
}

#[test]
fn networks_create_connect_disconnect_rm_prune() {
    let s = server!();
    s.busybox();
    let id = s
        .docker_ok(&[
            "network",
            "create",
            "--label",
            "proj=p1",
            "--subnet",
            "10.213.7.0/24",
            "--ip-range",
            "10.213.7.128/25",
            "objnet",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    let o = s.docker_fails(&["network", "create", "objnet"]);
    assert!(o.stderr.contains("already exists"), "{o:?}");

    let ls = s.docker_ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    for want in [
        "bridge bridge local",
        "host host local",
        "none null local",
        "objnet bridge local",
    ] {
        assert!(ls.lines().any(|l| l == want), "{want}: {ls}");
    }
    // the pseudo networks inspect by the ids ls shows
    let host = s.docker_ok(&["network", "ls", "-q", "--filter", "name=host"]);
    let v = s.inspect(&["network", "inspect", host.trim()]);
    assert_eq!(
        (&v["Name"], &v["Driver"]),
        (&"host".into(), &"host".into()),
        "{v}"
    );
    let custom = s.docker_ok(&["network", "ls", "-q", "--filter", "type=custom"]);
    assert_eq!(custom.trim(), &id[..12]);
    let by_label = s.docker_ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}}",
        "-f",
        "label=proj=p1",
    ]);
    assert_eq!(by_label.trim(), "objnet");

    let v = s.inspect(&["network", "inspect", "objnet"]);
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Driver"], "bridge");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "10.213.7.0/24");
    assert_eq!(v["IPAM"]["Config"][0]["IPRange"], "10.213.7.128/25");
    assert_eq!(v["Labels"]["proj"], "p1");
    assert!(is_rfc3339(v["Created"].as_str().unwrap()), "{v}");

    // a container the CLI created (not running) connected through the API
    let cid = s
        .berth_ok(&["create", "--name", "x", "bb", "sleep", "300"])
        .trim()
        .to_string();
    s.docker_ok(&["network", "connect", "--alias", "web", "objnet", "x"]);
    let v = s.inspect(&["network", "inspect", "objnet"]);
    assert_eq!(v["Containers"][&cid]["Name"], "x", "{v}");
    let c = s.inspect(&["inspect", "x"]);
    let ep = &c["NetworkSettings"]["Networks"]["objnet"];
    assert_eq!(ep["NetworkID"], id.as_str(), "{c}");
    assert_eq!(ep["Aliases"][0], "web", "{c}");
    let dangling = s.docker_ok(&["network", "ls", "-q", "-f", "dangling=true"]);
    assert!(!dangling.contains(&id[..12]), "{dangling}");

    // docker-compose's dance: disconnect and connect again, then start: an address from the
    // IP range
    s.docker_ok(&["network", "disconnect", "objnet", "x"]);
    let v = s.inspect(&["network", "inspect", "objnet"]);
    assert!(v["Containers"].as_object().unwrap().is_empty(), "{v}");
    s.docker_ok(&["network", "connect", "--alias", "web", "objnet", "x"]);
    s.docker_ok(&["start", "x"]);
    let v = s.inspect(&["network", "inspect", "objnet"]);
    let ip = v["Containers"][&cid]["IPv4Address"]
        .as_str()
        .unwrap()
        .to_string();
    let last: u32 = ip
        .trim_end_matches("/24")
        .rsplit('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ip.starts_with("10.213.7.") && last >= 128, "{ip}");

    let o = s.docker_fails(&["network", "rm", "objnet"]);
    assert!(o.stderr.contains("active endpoints"), "{o:?}");
    let o = s.docker_fails(&["network", "rm", "host"]);
    assert!(o.stderr.contains("pre-defined"), "{o:?}");
    let o = s.docker_fails(&["network", "inspect", "nonet"]);
    assert!(o.stderr.contains("not found"), "{o:?}");
    let o = s.docker_fails(&["network", "connect", "nonet", "x"]);
    assert!(o.stderr.contains("not found"), "{o:?}");

    s.docker_ok(&["rm", "-f", "x"]);
    s.docker_ok(&["network", "create", "spare"]);
    let out = s.docker_ok(&["network", "prune", "-f", "--filter", "label=proj=p1"]);
    assert!(out.contains("objnet") && !out.contains("spare"), "{out}");
    assert_eq!(s.docker_ok(&["network", "rm", "spare"]).trim(), "spare");
    s.docker_fails(&["network", "inspect", "objnet"]);
}

#[test]
fn events_of_the_cli_through_the_api() {
    let s = server!();
    s.busybox();
    let since = now_secs();
    let r = s.berth(&[
        "run", "--rm", "--name", "evc", "--label", "k=v", "bb", "sh", "-c", "exit 3",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    s.docker_ok(&["volume", "create", "evv"]);
    s.docker_ok(&["volume", "rm", "evv"]);
    let until = now_secs();

    let out = s.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "{{json .}}",
    ]);
    let evs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of_c: Vec<&Value> = evs
        .iter()
        .filter(|e| e["Type"] == "container" && e["Actor"]["Attributes"]["name"] == "evc")
        .collect();
    let actions: Vec<&str> = of_c.iter().map(|e| e["Action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "start", "die", "destroy"], "{out}");
    let die = of_c[2];
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "3", "{die}");
    assert_eq!(die["Actor"]["Attributes"]["image"], "bb", "{die}");
    assert_eq!(die["Actor"]["Attributes"]["k"], "v", "{die}");
    assert_eq!(die["status"], "die");
    assert_eq!(die["from"], "bb");
    assert_eq!(die["id"], die["Actor"]["ID"]);
    assert_eq!(die["scope"], "local");
    let t = die["timeNano"].as_i64().unwrap();
    assert_eq!(die["time"].as_i64().unwrap(), t / 1_000_000_000);
    assert!(
        evs.windows(2)
            .all(|w| w[0]["timeNano"].as_i64() <= w[1]["timeNano"].as_i64()),
        "{out}"
    );

    // filters: by type, by event, by container name
    let out = s.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=volume",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}}",
    ]);
    assert_eq!(out, "volume create evv\nvolume destroy evv\n");
    let out = s.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=evc",
        "--filter",
        "event=die",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(out, "die\n");
    // durations relative to now (the CLI sends whole seconds: let this one pass)
    std::thread::sleep(Duration::from_millis(1100));
    let out = s.docker_ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        "0s",
        "--filter",
        "type=container",
        "--format",
        "{{.Action}}",
    ]);
    assert!(out.contains("destroy"), "{out}");

    // following: a new event arrives while the stream is open
    let mut follow = s
        .docker_cmd()
        .args([
            "events",
            "--filter",
            "type=network",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    s.docker_ok(&["network", "create", "evnet"]);
    let mut stdout = follow.stdout.take().unwrap();
    // One line, however many writes it comes in (a single read() saw only "create ").
    let got = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = std::io::BufReader::new(&mut stdout).read_line(&mut line);
        line
    });
    let start = Instant::now();
    while !got.is_finished() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert_eq!(got.join().unwrap(), "create evnet\n");
    s.docker_ok(&["network", "rm", "evnet"]);
}

fn openssl(dir: &Path, args: &[&str]) {
    let r = run(Command::new("openssl").current_dir(dir).args(args));
    assert_eq!(r.code, 0, "openssl {args:?}: {r:?}");
}

#[test]
fn tls_needs_a_client_certificate_from_the_ca() {
    if let Some(why) = unsupported() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("berth-objects-tls-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = |name: &str| {
        [
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            name,
        ]
        .map(String::from)
    };
    let sh =
        |args: Vec<String>| openssl(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    sh(key("ca-key.pem").to_vec());
    sh([
        "req",
        "-x509",
        "-new",
        "-key",
        "ca-key.pem",
        "-days",
        "2",
        "-subj",
        "/CN=objects test CA",
        "-out",
        "ca.pem",
    ]
    .map(String::from)
    .to_vec());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (who, cn, key_file, cert_file) in [
        (
            "server",
            "/CN=localhost",
            "server-key.pem",
            "server-cert.pem",
        ),
        (
            "client",
            "/CN=objects-client/O=berth",
            "key.pem",
            "cert.pem",
        ),
    ] {
        sh(key(key_file).to_vec());
        let csr = format!("{who}.csr");
        sh(["req", "-new", "-key", key_file, "-subj", cn, "-out", &csr]
            .map(String::from)
            .to_vec());
        let ext = format!("{who}.ext");
        sh([
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            cert_file,
        ]
        .map(String::from)
        .to_vec());
    }
    // a client certificate from another CA is refused too
    sh(key("other-ca-key.pem").to_vec());
    sh([
        "req",
        "-x509",
        "-new",
        "-key",
        "other-ca-key.pem",
        "-days",
        "2",
        "-subj",
        "/CN=other CA",
        "-out",
        "other-ca.pem",
    ]
    .map(String::from)
    .to_vec());
    sh([
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "other-ca.pem",
        "-CAkey",
        "other-ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "client.ext",
        "-out",
        "other-cert.pem",
    ]
    .map(String::from)
    .to_vec());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let host = format!("tcp://127.0.0.1:{port}");
    let s = Server::start(&[
        "-H",
        &host,
        "--tlsverify",
        "--tlscacert",
        &p("ca.pem"),
        "--tlscert",
        &p("server-cert.pem"),
        "--tlskey",
        &p("server-key.pem"),
    ]);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no TCP listener:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let tls = |cert: Option<(&str, &str)>| {
        let mut c = s.docker_cmd();
        c.env_remove("DOCKER_HOST")
            .args(["--tlsverify", "--tlscacert", &p("ca.pem")]);
        if let Some((cert, key)) = cert {
            c.args(["--tlscert", &p(cert), "--tlskey", &p(key)]);
        }
        c.args(["-H", &host, "version", "--format", "{{.Server.Os}}"]);
        run(&mut c)
    };
    let r = tls(Some(("cert.pem", "key.pem")));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "linux\n"),
        "{r:?}\n{}",
        s.log()
    );
    assert!(
        s.log().contains("CN=objects-client,O=berth"),
        "the client's subject is logged:\n{}",
        s.log()
    );
    let r = tls(None);
    assert_ne!(r.code, 0, "without a client certificate: {r:?}");
    let r = tls(Some(("other-cert.pem", "key.pem")));
    assert_ne!(r.code, 0, "with a certificate of another CA: {r:?}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tcp_without_tls_is_refused() {
    if let Some(why) = unsupported() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("berth-objects-tcp-{}", unique()));
    let r = run(Command::new(berth_bin())
        .arg("--root")
        .arg(dir.join("root"))
        .args(["serve", "-H", "tcp://127.0.0.1:0"]));
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("TLS"), "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
