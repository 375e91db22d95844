//! Helpers of the escape battery (`tests/tests/escape.rs`): the probe (a
//! static C program, `tests/escape/probe.c`, that tries one escape per
//! argument inside a container), the two security profiles it runs under,
//! layer tarballs with hostile entries, and a host process to protect.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::cmd::Output;
use crate::cprog::static_c;
use crate::engine::Engine;

const PROBE_C: &str = include_str!("../escape/probe.c");

/// The probe, compiled once (see [`static_c`]).
pub fn probe_bin() -> PathBuf {
    static_c("probe", PROBE_C)
}

/// `-v PROBE:/probe:ro`: the probe inside a container.
pub fn probe_mount() -> String {
    format!("{}:/probe:ro", probe_bin().display())
}

/// How the attacking container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `run` with no security options: root, the default capabilities,
    /// seccomp profile, masked paths...
    Default,
    /// The pod security context of the seeds: `--user 1000 --cap-drop ALL
    /// --cap-add NET_BIND_SERVICE --read-only`.
    Pod,
}

pub const PROFILES: [Profile; 2] = [Profile::Default, Profile::Pod];

impl Profile {
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Profile::Default => &[],
            Profile::Pod => &[
                "--user",
                "1000",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "NET_BIND_SERVICE",
                "--read-only",
            ],
        }
    }
}

/// What the probe printed: `attempt -> result` (`ok`, an errno name, ...).
#[derive(Debug)]
pub struct Results {
    pub profile: Profile,
    pub map: BTreeMap<String, String>,
    pub output: Output,
}

/// Parses the probe's `ATTEMPT: RESULT` lines.
pub fn parse_results(profile: Profile, output: Output) -> Results {
    let map = output
        .stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(a, r)| (a.to_string(), r.trim().to_string()))
        .collect();
    Results {
        profile,
        map,
        output,
    }
}

/// `run --rm [profile] [extra] -v PROBE:/probe:ro IMG /probe ATTEMPTS...`.
pub fn run_probe(e: &Engine, profile: Profile, extra: &[&str], attempts: &[String]) -> Results {
    let mount = probe_mount();
    let mut args = vec!["run", "--rm", "-v", &mount];
    args.extend(profile.args());
    args.extend(extra);
    args.push(e.img());
    args.push("/probe");
    args.extend(attempts.iter().map(String::as_str));
    let out = e.cmd(&args);
    out.ok();
    parse_results(profile, out)
}

/// One escape attempt and the results that mean it was stopped.
pub struct Attempt {
    pub spec: String,
    pub stopped_by: &'static [&'static str],
}

pub fn attempt(spec: impl Into<String>, stopped_by: &'static [&'static str]) -> Attempt {
    Attempt {
        spec: spec.into(),
        stopped_by,
    }
}

/// Runs `attempts` under every profile; panics listing every attempt that
/// was not stopped (or whose result was missing), with the probe's output.
/// Returns the results, profile by profile.
#[track_caller]
pub fn assert_all_stopped(e: &Engine, extra: &[&str], attempts: &[Attempt]) -> Vec<Results> {
    assert_stopped_in(
        |profile, specs| run_probe(e, profile, extra, specs),
        attempts,
    )
}

/// [`assert_all_stopped`] with the probe run by `run` (profile, attempts): another engine
/// invocation, e.g. as a rootless user.
#[track_caller]
pub fn assert_stopped_in(
    mut run: impl FnMut(Profile, &[String]) -> Results,
    attempts: &[Attempt],
) -> Vec<Results> {
    let specs: Vec<String> = attempts.iter().map(|a| a.spec.clone()).collect();
    let mut failures = Vec::new();
    let mut all = Vec::new();
    for profile in PROFILES {
        let res = run(profile, &specs);
        for a in attempts {
            match res.map.get(&a.spec) {
                Some(r) if a.stopped_by.contains(&r.as_str()) => {}
                got => failures.push(format!(
                    "  {profile:?}: {}: got {got:?}, expected one of {:?}",
                    a.spec, a.stopped_by
                )),
            }
        }
        all.push(res);
    }
    assert!(
        failures.is_empty(),
        "escape attempts not stopped:\n{}\n{:?}",
        failures.join("\n"),
        all.iter().map(|r| &r.output).collect::<Vec<_>>()
    );
    all
}

// ---------------------------------------------------------------------------
// host state

/// A host process the containers must not be able to touch (`sleep`),
/// killed at drop.
pub struct HostSleeper(Child);

impl HostSleeper {
    pub fn start() -> HostSleeper {
        let child = Command::new("sleep")
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        HostSleeper(child)
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// Still running (not exited, not killed).
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for HostSleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Content and modification time of a host file, to tell it was left alone.
#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub len: u64,
    pub mtime: (i64, i64),
    pub hash: u64,
}

pub fn fingerprint(path: &Path) -> Fingerprint {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(path).unwrap().hash(&mut h);
    Fingerprint {
        len: meta.len(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        hash: h.finish(),
    }
}

/// Names of the entries of a host directory, sorted.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// hostile tarballs

/// A tar archive written entry by entry with any name: `../`, absolute
/// paths and links the usual writers refuse to produce.
#[derive(Default)]
pub struct HostileTar {
    data: Vec<u8>,
}

impl HostileTar {
    pub fn new() -> HostileTar {
        HostileTar::default()
    }

    fn entry(&mut self, name: &str, kind: u8, link: &str, mode: u32, body: &[u8]) -> &mut Self {
        assert!(
            name.len() < 100 && link.len() < 100,
            "name too long: {name}"
        );
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let octal = |h: &mut [u8; 512], at: usize, width: usize, v: u64| {
            let s = format!("{v:0w$o}\0", w = width - 1);
            h[at..at + width].copy_from_slice(s.as_bytes());
        };
        octal(&mut h, 100, 8, mode as u64);
        octal(&mut h, 108, 8, 0);
        octal(&mut h, 116, 8, 0);
        octal(&mut h, 124, 12, body.len() as u64);
        octal(&mut h, 136, 12, 1_700_000_000);
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        self.data.extend_from_slice(&h);
        self.data.extend_from_slice(body);
        let pad = (512 - body.len() % 512) % 512;
        self.data.extend(std::iter::repeat_n(0, pad));
        self
    }

    pub fn file(&mut self, name: &str, body: &[u8]) -> &mut Self {
        self.entry(name, b'0', "", 0o644, body)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, b'2', target, 0o777, b"")
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, b'1', target, 0o644, b"")
    }

    /// The archive, with its end-of-archive blocks.
    pub fn bytes(&self) -> Vec<u8> {
        let mut v = self.data.clone();
        v.extend(std::iter::repeat_n(0, 1024));
        v
    }

    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.bytes()).unwrap();
        path.to_path_buf()
    }
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A `docker save` archive (`docker load` input) of `reference` whose layers
/// are the given layer tarballs, bottom first.  Written under `dir`.
pub fn image_archive(dir: &Path, reference: &str, layers: &[&Path]) -> PathBuf {
    let root = dir.join(format!("archive-{}", reference.replace([':', '/'], "-")));
    std::fs::create_dir_all(&root).unwrap();
    let mut names = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("layer{i}.tar");
        std::fs::copy(l, root.join(&name)).unwrap();
        diff_ids.push(format!("sha256:{}", sha256_hex(l)));
        names.push(name);
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    std::fs::write(root.join("config.json"), config.to_string()).unwrap();
    let cfg_name = format!("{}.json", sha256_hex(&root.join("config.json")));
    std::fs::rename(root.join("config.json"), root.join(&cfg_name)).unwrap();
    let manifest = serde_json::json!([{
        "Config": cfg_name, "RepoTags": [reference], "Layers": names,
    }]);
    std::fs::write(root.join("manifest.json"), manifest.to_string()).unwrap();
    let out = root.with_extension("tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    out
}
