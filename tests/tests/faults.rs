//! The fault battery: berth killed (`kill -9`) at each step of run, rm, network connect, pull
//! and build -- the CLI, the monitor and `berth serve` -- and then the next berth command must
//! see a consistent state: `ps`/`inspect` tell the truth (running means a live process with
//! its pid; anything else has pid 0), and after `rm -f`/`system prune` nothing is left: no
//! mount, cgroup, veth, iptables rule, DNS helper, monitor or state directory.
//!
//! The crash points are compiled into berth (crates/fault): `BERTH_FAULT_POINT=NAME` makes the
//! process that reaches the point SIGKILL itself there. Also here: 200 concurrent `run -d` on
//! the default bridge. berth only (the points are berth's); each test has its own state root.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_e2e::cmd::{run_with_timeout, Output, Stdin};
use berth_e2e::engine::{berth_bin, pid_alive, pids_in_cgroup_named, pids_with_cmdline, Engine};
use berth_e2e::{berth_only, engine};
use serde_json::Value;

const T: Duration = Duration::from_secs(120);

/// One test's berth, with crash points.
struct Battery {
    e: Engine,
    root: PathBuf,
    n: std::cell::Cell<u32>,
}

impl Battery {
    fn new(e: Engine) -> Battery {
        let root = e.path().join("root");
        Battery {
            e,
            root,
            n: std::cell::Cell::new(0),
        }
    }

    fn command(&self, fault: Option<&str>, args: &[&str]) -> Command {
        let mut c = Command::new(berth_bin());
        c.arg("--root").arg(&self.root).args(args);
        c.env_remove("BERTH_FAULT_POINT");
        if let Some(f) = fault {
            c.env("BERTH_FAULT_POINT", f);
        }
        c
    }

    fn tag(&self) -> String {
        self.n.set(self.n.get() + 1);
        format!("fault-{:04}", self.n.get())
    }

    /// `berth ARGS` with crash point `fault`.
    fn run(&self, fault: Option<&str>, args: &[&str]) -> Output {
        let io = self.e.path().join("io");
        run_with_timeout(self.command(fault, args), &io, &self.tag(), Stdin::Null, T)
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(None, args);
        o.ok();
        o.stdout
    }

    /// Run with a crash point that must be reached: the command dies of SIGKILL.
    #[track_caller]
    fn crash(&self, point: &str, args: &[&str]) -> Output {
        let o = self.run(Some(point), args);
        assert!(
            o.code != 0,
            "{point}: the command should have failed or been killed: {o:?}"
        );
        o
    }

    fn ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq", "--no-trunc"])
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// ps and inspect tell the truth about every container.
    #[track_caller]
    fn check_truth(&self, when: &str) {
        let running: HashSet<String> = self
            .ok(&["ps", "-q", "--no-trunc"])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for id in self.ids() {
            let v: Value = serde_json::from_str(&self.ok(&["inspect", &id])).unwrap();
            let st = &v[0]["State"];
            let pid = st["Pid"].as_i64().unwrap_or(-1);
            let live = st["Running"] == true;
            let status = st["Status"].as_str().unwrap_or("");
            if live {
                assert!(
                    pid > 0 && pid_alive(pid as i32),
                    "{when}: {id} said running with pid {pid}, which is not alive: {st}"
                );
                assert!(running.contains(&id), "{when}: running {id} not in ps");
            } else {
                assert_eq!(pid, 0, "{when}: {id} not running has a pid: {st}");
                assert!(
                    !matches!(status, "running" | "paused" | "restarting"),
                    "{when}: {id}: {st}"
                );
                assert!(!running.contains(&id), "{when}: ps lists {id} not running");
            }
        }
    }

    /// The default bridge's device name and subnet prefix ("10.88.").
    fn bridge(&self, net: &str) -> (String, String) {
        let v: Value =
            serde_json::from_str(&self.ok(&["network", "inspect", net])).unwrap_or(Value::Null);
        let dev = v[0]["Options"]["com.docker.network.bridge.name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let subnet = v[0]["IPAM"]["Config"][0]["Subnet"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let prefix: Vec<&str> = subnet.split('.').take(2).collect();
        (dev, format!("{}.", prefix.join(".")))
    }

    /// Everything `rm -f` of every container must remove is gone.
    #[track_caller]
    fn check_clean(&self, when: &str, ids: &[String], nets: &[(String, String)]) {
        // a `run --rm`'s monitor clears what it left for later after it told the exit
        let root = self.root.to_string_lossy().to_string();
        let monitors = || -> Vec<i32> {
            pids_with_cmdline(&format!("{root} __monitor"))
                .into_iter()
                .filter(|p| pid_alive(*p))
                .collect()
        };
        berth_e2e::api::wait_until(Duration::from_secs(10), || monitors().is_empty());
        let p = self.e.path().to_string_lossy().to_string();
        let mounts: Vec<String> = berth_e2e::env::mount_points()
            .into_iter()
            .filter(|m| m.starts_with(&format!("{p}/")))
            .collect();
        assert!(mounts.is_empty(), "{when}: mounts left: {mounts:?}");
        for d in ["containers", "run/containers", "run/runtime", "trash"] {
            let left: Vec<String> = std::fs::read_dir(self.root.join(d))
                .map(|r| {
                    r.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        // (caches such as the runtime's .seccomp-cache stay)
                        .filter(|n| !n.starts_with('.'))
                        .collect()
                })
                .unwrap_or_default();
            assert!(left.is_empty(), "{when}: {d}/ still has {left:?}");
        }
        let procs = monitors();
        assert!(procs.is_empty(), "{when}: monitors left: {procs:?}");
        for id in ids {
            for ctl in [
                "memory",
                "pids",
                "cpu,cpuacct",
                "freezer",
                "devices",
                "unified",
            ] {
                let d = Path::new("/sys/fs/cgroup").join(ctl).join("berth").join(id);
                assert!(!d.exists(), "{when}: cgroup left: {}", d.display());
            }
        }
        let nat = Command::new("iptables-save")
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for (dev, prefix) in nets {
            if !dev.is_empty() {
                let ports = Command::new("ip")
                    .args(["-o", "link", "show", "master", dev])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                assert!(
                    ports.trim().is_empty(),
                    "{when}: veths left on {dev}: {ports}"
                );
            }
            // a rule naming one container address (not the subnet, not the gateway)
            let leak = nat.lines().find(|l| {
                l.split([' ', '/', ':'])
                    .filter(|w| w.starts_with(prefix.as_str()))
                    .any(|w| !w.ends_with(".0") && !w.ends_with(".1"))
            });
            assert!(leak.is_none(), "{when}: iptables rule left: {leak:?}");
        }
    }

    /// `rm -f` every container, then check nothing is left.
    #[track_caller]
    fn rm_all_and_check(&self, when: &str) {
        let mut ids = self.ids();
        if let Ok(r) = std::fs::read_dir(self.root.join("containers")) {
            ids.extend(
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
        ids.sort();
        ids.dedup();
        let listed = self.ids();
        if !listed.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(listed.iter().map(String::as_str));
            self.ok(&args);
        }
        let nets = vec![self.bridge("bridge")];
        self.check_clean(when, &ids, &nets);
    }
}

/// A `sleep` argument unique to this test process (found again with [`gone`], never one a
/// previous run left behind).
fn marker(base: u32) -> String {
    format!("{base}{}", std::process::id())
}

/// No process with `needle` on its command line is alive (within 10 s: a helper stopping).
#[track_caller]
fn gone(needle: &str, when: &str) {
    let alive = || -> Vec<i32> {
        pids_with_cmdline(needle)
            .into_iter()
            .filter(|p| pid_alive(*p))
            .collect()
    };
    berth_e2e::api::wait_until(Duration::from_secs(10), || alive().is_empty());
    let left = alive();
    assert!(left.is_empty(), "{when}: {needle:?} still runs: {left:?}");
}

/// No live process is in a cgroup named after container `id` (within 10 s).
#[track_caller]
fn no_process_in_cgroup_of(id: &str, when: &str) {
    berth_e2e::api::wait_until(Duration::from_secs(10), || {
        pids_in_cgroup_named(id).is_empty()
    });
    let left = pids_in_cgroup_named(id);
    assert!(
        left.is_empty(),
        "{when}: processes of container {id} are left: {left:?}"
    );
}

#[test]
fn run_and_rm_crash_at_every_step() {
    let e = engine!();
    berth_only!(e, "the crash points are berth's");
    let img = e.img().to_string();
    let b = Battery::new(e);
    let m4100 = marker(4100);
    let mut points = 0;
    // the CLI dies (create.*, start.*) or the monitor does (monitor.*)
    for (i, point) in [
        "create.recorded",
        "start.prepared",
        "monitor.runtime-created",
        "monitor.network-up",
        "monitor.started",
        "monitor.running",
        "start.returned",
    ]
    .iter()
    .enumerate()
    {
        points += 1;
        let marker = marker(4000 + i as u32);
        let name = format!("crash{i}");
        b.crash(
            point,
            &[
                "run", "-d", "-p", "80", "--name", &name, &img, "sleep", &marker,
            ],
        );
        let when = format!("run killed at {point}");
        b.check_truth(&when);
        if *point != "start.returned" {
            // nobody is left to collect the process: it must not run unseen
            gone(&format!("sleep {marker}"), &when);
        }
        if matches!(*point, "monitor.runtime-created" | "monitor.network-up") {
            // created, not started: the init waiting for its go-ahead goes with the monitor
            // that alone could give it (it once waited on exec.fifo until `rm`)
            for id in b.ids() {
                no_process_in_cgroup_of(&id, &when);
            }
        }
        // the name is usable again once the container is removed
        b.rm_all_and_check(&when);
        b.ok(&["run", "-d", "--name", &name, &img, "true"]);
        b.rm_all_and_check(&format!("{when}, then a clean run"));
    }
    // rm -f of a running container, killed at each step
    for point in [
        "rm.marked",
        "destroy.runtime-deleted",
        "destroy.snapshot-removed",
    ] {
        points += 1;
        b.ok(&[
            "run", "-d", "-p", "80", "--name", "victim", &img, "sleep", &m4100,
        ]);
        b.crash(point, &["rm", "-f", "victim"]);
        let when = format!("rm -f killed at {point}");
        b.check_truth(&when);
        b.rm_all_and_check(&when);
        gone(&format!("sleep {m4100}"), &when);
    }
    // a `run --rm` whose monitor is killed after it told the exit, before it removed what the
    // removal moved aside: the exit code arrived, and the next removal sweeps the trash and
    // the runtime state and cgroups of the container no longer recorded (the kernel removed
    // the veth with the container's network namespace)
    points += 1;
    let o = b.run(
        Some("monitor.exit-told"),
        &["run", "--rm", "-p", "80", &img, "sh", "-c", "exit 7"],
    );
    assert_eq!(o.code, 7, "{o:?}");
    let trash = std::fs::read_dir(b.root.join("trash")).map_or(0, |d| d.count());
    assert!(
        trash > 0,
        "the killed monitor left nothing in the trash: {o:?}"
    );
    b.ok(&["run", "--rm", &img, "true"]);
    b.rm_all_and_check("run --rm's monitor killed at monitor.exit-told");
    eprintln!("crash points exercised: {points}");
}

/// A `--rm` container may run, exit and be removed before its starter looks at it again:
/// the start still succeeded (it once answered "No such container", which `docker run --rm`
/// through `berth serve` showed as exit code 125). The pause at `start.returned` makes the
/// race certain.
#[test]
fn start_of_a_rm_container_that_is_gone_when_start_returns() {
    let e = engine!();
    berth_only!(e, "the pause points are berth's");
    let img = e.img().to_string();
    let b = Battery::new(e);
    let id = b.ok(&["create", "--rm", &img, "true"]);
    let id = id.trim();
    let mut c = b.command(None, &["start", id]);
    c.env("BERTH_FAULT_PAUSE", "start.returned:1500");
    let o = run_with_timeout(c, &b.e.path().join("io"), &b.tag(), Stdin::Null, T);
    assert!(o.success(), "start of a --rm container: {o:?}");
    let ps = b.ok(&["ps", "-aq", "--no-trunc"]);
    assert!(!ps.contains(id), "the --rm container is still listed: {ps}");
    b.rm_all_and_check("start of a --rm container");
}

#[test]
fn network_connect_crash_leaves_a_consistent_network() {
    let e = engine!();
    berth_only!(e, "the crash points are berth's");
    let img = e.img().to_string();
    let b = Battery::new(e);
    let m4200 = marker(4200);
    b.ok(&["network", "create", "fnet"]);
    let fnet = b.bridge("fnet");
    b.ok(&["run", "-d", "--name", "c1", &img, "sleep", &m4200]);
    b.crash("connect.plugged", &["network", "connect", "fnet", "c1"]);
    b.check_truth("network connect killed");
    // connecting again converges, the container and the network agree, and the network works
    b.ok(&["network", "connect", "fnet", "c1"]);
    let c: Value = serde_json::from_str(&b.ok(&["inspect", "c1"])).unwrap();
    let n: Value = serde_json::from_str(&b.ok(&["network", "inspect", "fnet"])).unwrap();
    let id = c[0]["Id"].as_str().unwrap().to_string();
    let ip = c[0]["NetworkSettings"]["Networks"]["fnet"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let listed = n[0]["Containers"][&id]["IPv4Address"]
        .as_str()
        .unwrap_or("");
    assert!(
        !ip.is_empty() && listed.starts_with(&format!("{ip}/")),
        "container and network disagree:\n{c}\n{n}"
    );
    let addrs = b.ok(&["exec", "c1", "ip", "-o", "-4", "addr"]);
    assert_eq!(
        addrs.matches(&format!(" {ip}/")).count(),
        1,
        "the container's addresses: {addrs}"
    );
    b.ok(&["rm", "-f", "c1"]);
    b.ok(&["network", "rm", "fnet"]);
    gone(&format!("{} __dns", b.root.display()), "after network rm");
    b.check_clean("network connect killed, then rm", &[id], &[fnet]);
}

#[test]
fn serve_killed_at_every_step_of_run_and_rm() {
    let e = engine!();
    berth_only!(e, "the crash points are berth's");
    if berth_e2e::api::which("docker").is_none() {
        eprintln!("SKIP: needs the docker CLI");
        return;
    }
    let img = e.img().to_string();
    let b = Battery::new(e);
    let m4300 = marker(4300);
    let sock = b.e.path().join("api.sock");
    let host = format!("unix://{}", sock.display());
    let docker = |args: &[&str]| -> Output {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", &host)
            .env("DOCKER_CONFIG", b.e.path().join("docker-config"))
            .args(args);
        run_with_timeout(c, &b.e.path().join("io"), &b.tag(), Stdin::Null, T)
    };
    let serve = |point: Option<&str>| {
        let _ = std::fs::remove_file(&sock);
        let mut c = b.command(point, &["serve", "-H", &host]);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = c.spawn().expect("spawn berth serve");
        let up = berth_e2e::api::wait_until(Duration::from_secs(30), || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
        assert!(up, "berth serve did not listen");
        child
    };
    for point in [
        "create.recorded",
        "start.prepared",
        "start.returned",
        "rm.marked",
        "destroy.snapshot-removed",
    ] {
        let rm = point.starts_with("rm") || point.starts_with("destroy");
        if rm {
            b.ok(&["run", "-d", "--name", "s1", &img, "sleep", &m4300]);
        }
        let mut child = serve(Some(point));
        let o = if rm {
            docker(&["rm", "-f", "s1"])
        } else {
            docker(&["run", "-d", "--name", "s1", &img, "sleep", &m4300])
        };
        let st = child.wait().expect("wait for berth serve");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&st),
            Some(9),
            "berth serve was not killed at {point} ({st}); the client said {o:?}"
        );
        let when = format!("berth serve killed at {point}");
        b.check_truth(&when);
        // a new server sees the same truth
        let mut again = serve(None);
        let o = docker(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
        assert!(o.success(), "{when}: {o:?}");
        let _ = again.kill();
        let _ = again.wait();
        b.rm_all_and_check(&when);
        gone(&format!("sleep {m4300}"), &when);
    }
}

#[test]
fn pull_and_build_crash_midway() {
    let e = engine!();
    berth_only!(e, "the crash points are berth's");
    let img = e.img().to_string();
    let b = Battery::new(e);
    // pull, killed in the middle of a blob, from a local registry
    let reg = berth_e2e::api::Registry::start(&b.e.path().join("registry"));
    let r = format!("{}/e2e/fault:v1", reg.addr);
    // an image with a layer of its own (4 MB, many chunks), pushed, then forgotten here
    b.ok(&[
        "run",
        "--name",
        "mk",
        &img,
        "sh",
        "-c",
        "head -c 4000000 /dev/urandom > /blob",
    ]);
    b.ok(&["commit", "mk", &r]);
    b.ok(&["rm", "mk"]);
    b.ok(&["push", &r]);
    b.ok(&["rmi", &r]);
    b.ok(&["image", "prune", "-f"]);
    b.crash("pull.mid-blob", &["pull", &r]);
    let o = b.run(None, &["image", "inspect", &r]);
    assert!(!o.success(), "a pull killed midway left the image: {o:?}");
    b.ok(&["pull", &r]);
    assert_eq!(b.ok(&["run", "--rm", &r, "echo", "pulled"]), "pulled\n");

    // build, killed in the middle of a RUN step and right after it
    let ctx = b.e.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {img}\nRUN echo step-output && sleep 1 && echo done > /built\n"),
    )
    .unwrap();
    let ctx_s = ctx.to_string_lossy().to_string();
    // (step-committed: the step's image made and cached, its container being removed behind
    // the build)
    for point in ["build.mid-step", "build.step-ran", "build.step-committed"] {
        b.crash(point, &["build", "-t", "fault-built:1", &ctx_s]);
        let when = format!("build killed at {point}");
        b.check_truth(&when);
        b.ok(&["system", "prune", "-f"]);
        b.rm_all_and_check(&when);
        let o = b.run(None, &["image", "inspect", "fault-built:1"]);
        assert!(!o.success(), "{when}: the image was tagged: {o:?}");
    }
    b.ok(&["build", "-t", "fault-built:1", &ctx_s]);
    assert_eq!(
        b.ok(&["run", "--rm", "fault-built:1", "cat", "/built"]),
        "done\n"
    );
    // killed in a COPY, whose rootfs is a snapshot of the builder's own (no container): its
    // overlay mount and record go at the next `builder prune` (or build)
    std::fs::write(ctx.join("f"), "copied\n").unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {img}\nCOPY f /f\n")).unwrap();
    b.crash(
        "build.snapshot-made",
        &["build", "-t", "fault-copied:1", &ctx_s],
    );
    b.ok(&["builder", "prune", "-f"]);
    b.rm_all_and_check("build killed in a COPY");
    b.ok(&["build", "-t", "fault-copied:1", &ctx_s]);
    // killed while a stage only copied from keeps its layer without a blob (recorded with no
    // dir yet; made, and named by a cached step): the prunes leave no layer of it behind
    let layers = |b: &Battery| {
        std::fs::read_dir(b.root.join("snapshots/layers"))
            .unwrap()
            .count()
    };
    b.ok(&["builder", "prune", "-f"]);
    b.ok(&["image", "prune", "-f"]);
    let before = layers(&b);
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {img} AS tool\nRUN echo kept > /k\nFROM {img}\nCOPY --from=tool /k /k\n"),
    )
    .unwrap();
    for point in ["image.kept-recorded", "build.step-committed"] {
        b.crash(point, &["build", "-t", "fault-kept:1", &ctx_s]);
        let when = format!("build killed at {point}");
        b.check_truth(&when);
        b.ok(&["builder", "prune", "-f"]);
        b.ok(&["system", "prune", "-f"]);
        assert_eq!(layers(&b), before, "{when}: a layer was left");
    }
    b.ok(&["build", "-t", "fault-kept:1", &ctx_s]);
    assert_eq!(
        b.ok(&["run", "--rm", "fault-kept:1", "cat", "/k"]),
        "kept\n"
    );
    b.rm_all_and_check("after the builds");
}

#[test]
fn two_hundred_concurrent_runs_on_the_default_bridge() {
    let e = engine!();
    berth_only!(e, "own state root");
    let img = e.img().to_string();
    let b = Battery::new(e);
    let m4400 = marker(4400);
    const N: usize = 200;
    let io = b.e.path().join("io");
    std::fs::create_dir_all(&io).unwrap();
    let mut children = Vec::new();
    for i in 0..N {
        let mut c = b.command(None, &["run", "-d", &img, "sleep", &m4400]);
        let out = std::fs::File::create(io.join(format!("many-{i}.out"))).unwrap();
        let err = std::fs::File::create(io.join(format!("many-{i}.err"))).unwrap();
        c.stdin(Stdio::null()).stdout(out).stderr(err);
        children.push(c.spawn().expect("spawn berth run"));
    }
    let mut failed = Vec::new();
    for (i, mut c) in children.into_iter().enumerate() {
        let st = c.wait().unwrap();
        if !st.success() {
            let err = std::fs::read_to_string(io.join(format!("many-{i}.err"))).unwrap();
            failed.push(format!("#{i} {st}: {err}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} runs failed: {failed:#?}",
        failed.len()
    );
    let out = b.ok(&["ps", "--format", "{{.Names}} {{.ID}}", "--no-trunc"]);
    let names: HashSet<&str> = out.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(names.len(), N, "distinct running names: {out}");
    let ids = b.ids();
    let mut args = vec![
        "inspect",
        "-f",
        "{{.State.Pid}} {{.NetworkSettings.IPAddress}}",
    ];
    args.extend(ids.iter().map(String::as_str));
    let out = b.ok(&args);
    let ips: HashSet<&str> = out.lines().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(ips.len(), N, "distinct addresses:\n{out}");
    assert!(!ips.contains(""), "a container without an address:\n{out}");
    b.check_truth("200 runs");
    b.rm_all_and_check("200 runs removed");
    gone(&format!("sleep {m4400}"), "200 runs removed");
}
