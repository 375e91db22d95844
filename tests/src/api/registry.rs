//! A local `docker-registry` for pull and push tests.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::host::{free_port, which};
use super::wait_until;

/// A local `docker-registry` on 127.0.0.1:<free port>, storage in `dir`;
/// killed at drop.
pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    child: Child,
}

impl Registry {
    /// Start one with its storage and config under `dir`.
    pub fn start(dir: &Path) -> Registry {
        assert!(
            which("docker-registry").is_some(),
            "docker-registry not found: apt-get install docker-registry"
        );
        std::fs::create_dir_all(dir).unwrap();
        for _attempt in 0..3 {
            let port = free_port();
            let cfg = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            );
            let cfgp = dir.join("config.yml");
            std::fs::write(&cfgp, cfg).unwrap();
            let log = File::create(dir.join("registry.log")).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfgp)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("spawn docker-registry");
            let addr = format!("127.0.0.1:{port}");
            let up = wait_until(Duration::from_secs(10), || {
                if let Ok(Some(_)) = child.try_wait() {
                    return true;
                }
                std::net::TcpStream::connect(&addr).is_ok()
            });
            if up && child.try_wait().ok().flatten().is_none() {
                return Registry { addr, child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
