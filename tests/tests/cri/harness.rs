//! A private containerd with its CRI plugin for one test, and a CRI client
//! (the `k8s-cri` crate's tonic stubs) over its unix socket.
//!
//! The daemon has its own root, state, sockets, `opt` dir, runtime roots and
//! a random CRI streaming port, so it coexists with any other containerd
//! (dockerd's, the system's, other tests').  Its CRI config has two runtime
//! handlers, as a Kubernetes RuntimeClass selects them: `runc` and `berth`,
//! both `io.containerd.runc.v2` with `options.BinaryName` (runc from PATH,
//! our berth-runtime), and `restrict_oom_score_adj = true` (this host lacks
//! CAP_SYS_RESOURCE).  Images are local: a busybox image and the pod sandbox
//! ("pause") image, both made from Debian's busybox-static by `berth import`,
//! `berth save`d as a docker archive and imported with `ctr images import`.
//!
//! Dropping it (also on panic) removes every pod through the CRI, stops the
//! daemon, kills what is left (shims, container processes in the test's
//! cgroup parent), unmounts, and removes the cgroups and the temp dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_e2e::engine::{berth_bin, busybox_tar, pids_with_cmdline};
use berth_e2e::env::{make_test_dir, mount_points, remove_test_dir, unmount_under};
use berth_e2e::runtime::berth_runtime_bin;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};

pub use k8s_cri::v1;

/// The pod sandbox image (busybox running `sleep`: a pause stand-in).
pub const PAUSE_IMAGE: &str = "localhost/berth-cri-pause:latest";
/// The image of the test's containers.
pub const BUSYBOX_IMAGE: &str = "localhost/berth-cri-busybox:latest";

/// Timeout of one CRI call.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// An executable on PATH or in the sbin dirs (runc is in /usr/sbin).
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// One test's containerd.  See the module docs.
pub struct Containerd {
    dir: Option<tempfile::TempDir>,
    /// The test's temp dir (root, state, sockets, logs).
    pub path: PathBuf,
    sock: PathBuf,
    child: Option<Child>,
    /// `linux.cgroup_parent` of the test's pods (as kubelet's pod cgroup).
    pub cgroup_parent: String,
    rt: tokio::runtime::Runtime,
    client: Option<RuntimeServiceClient<Channel>>,
}

impl Containerd {
    /// Starts the daemon and imports the images.  Needs root and containerd.
    pub fn start() -> Containerd {
        let (dir, path) = make_test_dir("berth-cri-");
        let suffix = path.file_name().unwrap().to_string_lossy().replace('.', "");
        let mut cd = Containerd {
            dir: Some(dir),
            sock: path.join("containerd.sock"),
            path: path.clone(),
            child: None,
            cgroup_parent: format!("/{suffix}"),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: None,
        };
        std::fs::write(path.join("config.toml"), cd.config()).unwrap();
        let log = std::fs::File::create(path.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(path.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        cd.child = Some(child);
        // From here on a panic drops `cd`, which cleans up.
        let start = Instant::now();
        while !cd.sock.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd did not make its socket:\n{}",
                cd.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        cd.import_images();
        cd.client = Some(cd.connect());
        let req = VersionRequest {
            version: "v1".into(),
        };
        let v = cd.call("Version", cd.client().version(req));
        assert_eq!(v.runtime_name, "containerd", "{v:?}");
        cd
    }

    fn config(&self) -> String {
        let p = self.path.display();
        let runc = find_bin("runc").expect("runc not found");
        let handler = |name: &str, bin: &Path| {
            format!(
                r#"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}.options]
        BinaryName = "{bin}"
        Root = "{p}/rt-{name}""#,
                bin = bin.display()
            )
        };
        format!(
            r#"version = 2
root = "{p}/root"
state = "{p}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{p}/containerd.sock"
[ttrpc]
  address = "{p}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{p}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{p}/cni/bin"
    conf_dir = "{p}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"{runc}{berth}
"#,
            runc = handler("runc", &runc),
            berth = handler("berth", &berth_runtime_bin()),
        )
    }

    /// The runtime's state dir of `handler` (its `--root`) for the CRI's
    /// namespace.
    pub fn runtime_root(&self, handler: &str) -> PathBuf {
        self.path.join(format!("rt-{handler}/k8s.io"))
    }

    /// The shims' task dirs (bundles, rootfs mount points).
    pub fn task_dir(&self) -> PathBuf {
        self.path.join("state/io.containerd.runtime.v2.task/k8s.io")
    }

    /// Directory of the pods' CRI logs.
    pub fn log_dir(&self) -> PathBuf {
        self.path.join("logs")
    }

    pub fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(self.path.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn ctr(&self, args: &[&str]) {
        let out = Command::new("ctr")
            .arg("-a")
            .arg(&self.sock)
            .args(["-n", "k8s.io"])
            .args(args)
            .output()
            .expect("run ctr");
        assert!(
            out.status.success(),
            "ctr {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Both images into the `k8s.io` namespace, where the CRI finds them.
    fn import_images(&self) {
        let root = self.path.join("berth");
        let berth = |args: &[&str]| {
            let out = Command::new(berth_bin())
                .arg("--root")
                .arg(&root)
                .args(args)
                .output()
                .expect("run berth");
            assert!(
                out.status.success(),
                "berth {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let tar = busybox_tar().to_str().unwrap();
        let path = "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin";
        berth(&[
            "import",
            "-c",
            path,
            "-c",
            r#"CMD ["sh"]"#,
            tar,
            BUSYBOX_IMAGE,
        ]);
        let sleep = r#"CMD ["sleep", "2147483647"]"#;
        berth(&["import", "-c", path, "-c", sleep, tar, PAUSE_IMAGE]);
        let archive = self.path.join("images.tar");
        let archive = archive.to_str().unwrap();
        berth(&["save", "-o", archive, BUSYBOX_IMAGE, PAUSE_IMAGE]);
        self.ctr(&["images", "import", archive]);
        // berth's own state is not needed any more (its overlay mounts neither).
        unmount_under(&root);
        let _ = std::fs::remove_dir_all(&root);
    }

    fn connect(&self) -> RuntimeServiceClient<Channel> {
        let sock = self.sock.clone();
        let channel = self
            .rt
            .block_on(
                Endpoint::try_from("http://[::]:50051")
                    .unwrap()
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let sock = sock.clone();
                        async move {
                            let s = tokio::net::UnixStream::connect(sock).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(s))
                        }
                    })),
            )
            .expect("connect to containerd's socket");
        RuntimeServiceClient::new(channel)
    }

    /// A client for one call (cheap: it shares the connection).
    pub fn client(&self) -> RuntimeServiceClient<Channel> {
        self.client.clone().expect("connected")
    }

    /// Runs one CRI call to completion; Err is the call's status.
    pub fn try_call<R>(
        &self,
        f: impl std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    ) -> Result<R, tonic::Status> {
        match self
            .rt
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, f).await })
        {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded("no answer within 60 s")),
        }
    }

    /// Runs one CRI call; panics with the status and the daemon's log.
    #[track_caller]
    pub fn call<R>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    ) -> R {
        self.try_call(f).unwrap_or_else(|s| {
            panic!(
                "{what}: {:?} {}\n--- containerd log:\n{}",
                s.code(),
                s.message(),
                self.log_tail(40)
            )
        })
    }

    pub fn container_status(&self, id: &str) -> ContainerStatus {
        let req = ContainerStatusRequest {
            container_id: id.into(),
            verbose: false,
        };
        let r = self.call("ContainerStatus", self.client().container_status(req));
        r.status.expect("a status")
    }

    /// Polls the container's status until `pred` holds; panics after `timeout`.
    #[track_caller]
    pub fn wait_status(
        &self,
        id: &str,
        timeout: Duration,
        pred: impl Fn(&ContainerStatus) -> bool,
    ) -> ContainerStatus {
        let start = Instant::now();
        loop {
            let st = self.container_status(id);
            if pred(&st) {
                return st;
            }
            assert!(
                start.elapsed() < timeout,
                "container {id}: still {st:?} after {timeout:?}\n--- containerd log:\n{}",
                self.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every pod's sandbox id.
    pub fn pod_ids(&self) -> Vec<String> {
        let req = ListPodSandboxRequest { filter: None };
        let r = self.call("ListPodSandbox", self.client().list_pod_sandbox(req));
        r.items.into_iter().map(|p| p.id).collect()
    }

    pub fn container_ids(&self) -> Vec<String> {
        let req = ListContainersRequest { filter: None };
        let r = self.call("ListContainers", self.client().list_containers(req));
        r.containers.into_iter().map(|c| c.id).collect()
    }

    /// The cgroup directories of the test's pods in every hierarchy (v1
    /// controllers and the unified one), wherever they are mounted: not only
    /// under /sys/fs/cgroup (this host mounts hugetlb at /run/hugetlb-v1 for
    /// crun, and the pods' parent was left there after every run).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let rel = self.cgroup_parent.trim_start_matches('/');
        berth_e2e::cgroup_mount_points()
            .into_iter()
            .map(|m| m.join(rel))
            .filter(|d| d.is_dir())
            .collect()
    }

    /// Cgroups left below the pods' parent (the parent itself, which kubelet
    /// would own, does not count).
    pub fn cgroups_left(&self) -> Vec<PathBuf> {
        let mut left = Vec::new();
        for d in self.cgroup_dirs() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    left.push(e.path());
                }
            }
        }
        left
    }

    /// Mount points under the test's temp dir.
    pub fn mounts_left(&self) -> Vec<String> {
        let prefix = format!("{}/", self.path.display());
        mount_points()
            .into_iter()
            .filter(|m| m.starts_with(&prefix))
            .collect()
    }

    /// Processes started for this daemon besides itself (shims: their
    /// command line names the socket).
    pub fn shims_left(&self) -> Vec<i32> {
        let me = self.child.as_ref().map(|c| c.id() as i32);
        pids_with_cmdline(self.sock.to_str().unwrap())
            .into_iter()
            .filter(|p| Some(*p) != me)
            .collect()
    }

    /// Best effort: stop and remove every pod (and so its containers).
    fn remove_all_pods(&self) {
        if self.client.is_none() {
            return;
        }
        let Ok(list) = self.try_call(
            self.client()
                .list_pod_sandbox(ListPodSandboxRequest { filter: None }),
        ) else {
            return;
        };
        for p in list.items {
            let id = p.id;
            let _ = self.try_call(self.client().stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            }));
            let _ = self.try_call(
                self.client()
                    .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id }),
            );
        }
    }

    fn kill_cgroup_members(&self) {
        for d in self.cgroup_dirs() {
            for procs in walk_procs(&d) {
                let text = std::fs::read_to_string(procs).unwrap_or_default();
                for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }

    fn remove_cgroups(&self) {
        for d in self.cgroup_dirs() {
            let mut dirs: Vec<PathBuf> = walk_procs(&d)
                .into_iter()
                .filter_map(|p| p.parent().map(Path::to_path_buf))
                .collect();
            dirs.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
            for dir in dirs {
                for _ in 0..50 {
                    if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// `cgroup.procs` files of `dir` and its descendants.
fn walk_procs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.join("cgroup.procs")];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk_procs(&e.path()));
        }
    }
    out
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.remove_all_pods();
        self.client = None;
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for pid in pids_with_cmdline(self.path.to_str().unwrap()) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        self.kill_cgroup_members();
        unmount_under(&self.path);
        self.remove_cgroups();
        if let Some(dir) = self.dir.take() {
            remove_test_dir(dir);
        }
    }
}
