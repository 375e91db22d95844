//! RUN's BuildKit flags: `--mount=type=...,k=v,...` (bind, cache, tmpfs, secret, ssh),
//! `--network=default|none|host` and `--security=sandbox|insecure`, as the Dockerfile
//! reference defines them. Values may hold build variables: the builder parses the flags after
//! expanding them; the parser checks those without a `$` early, so a typo fails at parse time.

use serde::Serialize;

/// What a `--mount` brings into the RUN container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

/// How concurrent builds share a cache mount (`sharing=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

/// One `--mount` of a RUN step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMount {
    pub kind: MountType,
    /// the path in the container (secret: default `/run/secrets/<id>`; ssh: the agent socket)
    pub target: Option<String>,
    /// the path in `from` (bind, cache) or nothing
    pub source: Option<String>,
    /// a stage or an image (bind: default the build context; cache: the seed)
    pub from: Option<String>,
    /// cache: the cache's name (default the target); secret, ssh: which one
    pub id: Option<String>,
    pub readonly: bool,
    pub sharing: Sharing,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// tmpfs size in bytes
    pub size: Option<u64>,
    pub required: bool,
    /// secret: also (or only) as this environment variable
    pub env: Option<String>,
}

/// RUN `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RunNetwork {
    Default,
    None,
    Host,
}

/// A RUN step's flags, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFlags {
    pub mounts: Vec<RunMount>,
    pub network: RunNetwork,
    /// `--security=insecure`: the step runs privileged (needs `--allow security.insecure`)
    pub insecure: bool,
}

/// The flags of a RUN as the parser keeps them (`name`, `value`), after expansion.
pub fn run_flags(flags: &[(String, String)]) -> Result<RunFlags, String> {
    let mut out = RunFlags {
        mounts: Vec::new(),
        network: RunNetwork::Default,
        insecure: false,
    };
    for (name, value) in flags {
        match name.as_str() {
            "mount" => out.mounts.push(parse_mount(value)?),
            "network" => {
                out.network = match value.as_str() {
                    "default" => RunNetwork::Default,
                    "none" => RunNetwork::None,
                    "host" => RunNetwork::Host,
                    v => return Err(format!("unsupported network mode {v:?}")),
                }
            }
            "security" => {
                out.insecure = match value.as_str() {
                    "sandbox" => false,
                    "insecure" => true,
                    v => return Err(format!("unsupported security mode {v:?}")),
                }
            }
            other => return Err(format!("unknown flag: {other}")),
        }
    }
    Ok(out)
}

fn boolean(key: &str, v: Option<&str>) -> Result<bool, String> {
    match v.map(|v| v.to_ascii_lowercase()) {
        None => Ok(true),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(format!("invalid value for {key}: {v}")),
    }
}

fn number(key: &str, v: Option<&str>, radix: u32) -> Result<u32, String> {
    let v = v.ok_or_else(|| format!("{key} needs a value"))?;
    u32::from_str_radix(v.trim_start_matches("0o"), radix)
        .map_err(|_| format!("invalid value for {key}: {v}"))
}

/// A size: bytes, or with a unit (`k`, `m`, `g`, as docker's `RAMInBytes`).
fn size(v: &str) -> Result<u64, String> {
    let t = v.trim().to_ascii_lowercase();
    let t = t.trim_end_matches('b').trim_end_matches('i');
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("invalid size: {v}"))
}

/// One `--mount` value: comma-separated `key=value` (or bare boolean `key`) fields.
pub fn parse_mount(value: &str) -> Result<RunMount, String> {
    let mut m = RunMount {
        kind: MountType::Bind,
        target: None,
        source: None,
        from: None,
        id: None,
        readonly: true,
        sharing: Sharing::Shared,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        required: false,
        env: None,
    };
    let fields: Vec<(String, Option<&str>)> = value
        .split(',')
        .filter(|f| !f.trim().is_empty())
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (f.trim().to_ascii_lowercase(), None),
        })
        .collect();
    // the type first: it decides the defaults
    if let Some((_, v)) = fields.iter().find(|(k, _)| k == "type") {
        m.kind = match v.unwrap_or_default() {
            "bind" => MountType::Bind,
            "cache" => MountType::Cache,
            "tmpfs" => MountType::Tmpfs,
            "secret" => MountType::Secret,
            "ssh" => MountType::Ssh,
            t => return Err(format!("unsupported mount type {t:?}")),
        };
    }
    m.readonly = matches!(m.kind, MountType::Bind | MountType::Secret | MountType::Ssh);
    for (k, v) in &fields {
        let text = || v.map(str::to_string).filter(|s| !s.is_empty());
        match k.as_str() {
            "type" => {}
            "target" | "dst" | "destination" => m.target = text(),
            "source" | "src" => m.source = text(),
            "from" => m.from = text(),
            "id" => m.id = text(),
            "ro" | "readonly" => m.readonly = boolean(k, *v)?,
            "rw" | "readwrite" => m.readonly = !boolean(k, *v)?,
            "required" => m.required = boolean(k, *v)?,
            "sharing" => {
                m.sharing = match v.unwrap_or_default() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    s => return Err(format!("unsupported sharing value {s:?}")),
                }
            }
            "mode" => m.mode = Some(number(k, *v, 8)?),
            "uid" => m.uid = Some(number(k, *v, 10)?),
            "gid" => m.gid = Some(number(k, *v, 10)?),
            "size" => m.size = Some(size(v.unwrap_or_default())?),
            "env" => m.env = text(),
            _ => return Err(format!("unexpected key '{k}' in '{value}'")),
        }
    }
    check_mount(&m)?;
    Ok(m)
}

/// What each type needs and allows.
fn check_mount(m: &RunMount) -> Result<(), String> {
    let kind = format!("{:?}", m.kind).to_ascii_lowercase();
    let needs_target = matches!(
        m.kind,
        MountType::Bind | MountType::Cache | MountType::Tmpfs
    );
    if needs_target && m.target.is_none() {
        return Err(format!("mount type {kind} requires a target"));
    }
    if m.kind == MountType::Secret && m.id.is_none() && m.target.is_none() && m.env.is_none() {
        return Err("secret mount requires an id or a target".into());
    }
    if m.from.is_some() && !matches!(m.kind, MountType::Bind | MountType::Cache) {
        return Err(format!("from is not allowed for mount type {kind}"));
    }
    if m.size.is_some() && m.kind != MountType::Tmpfs {
        return Err(format!("size is not allowed for mount type {kind}"));
    }
    if m.env.is_some() && m.kind != MountType::Secret {
        return Err(format!("env is not allowed for mount type {kind}"));
    }
    if let Some(t) = &m.target {
        if t.split('/').any(|c| c == "..") {
            return Err(format!("invalid mount target {t:?}: '..' is not allowed"));
        }
    }
    if let Some(id) = &m.id {
        if id.contains('/') && m.kind != MountType::Cache {
            return Err(format!("invalid {kind} id {id:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn mounts_and_their_defaults() {
        let m = parse_mount("type=cache,target=/root/.cache,id=pip,sharing=locked").unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(m.id.as_deref(), Some("pip"));
        assert_eq!(m.sharing, Sharing::Locked);
        assert!(!m.readonly, "caches are writable");
        let b = parse_mount("target=/src,source=app,rw").unwrap();
        assert_eq!(b.kind, MountType::Bind);
        assert!(!b.readonly);
        assert!(parse_mount("type=bind,dst=/x").unwrap().readonly);
        let s = parse_mount("type=secret,id=tok,required,mode=0444,uid=5").unwrap();
        assert!(s.required && s.readonly);
        assert_eq!((s.mode, s.uid), (Some(0o444), Some(5)));
        let e = parse_mount("type=secret,id=tok,env=TOKEN").unwrap();
        assert_eq!(e.env.as_deref(), Some("TOKEN"));
        let t = parse_mount("type=tmpfs,target=/t,size=64m").unwrap();
        assert_eq!(t.size, Some(64 << 20));
        assert_eq!(parse_mount("type=ssh").unwrap().kind, MountType::Ssh);
    }

    #[test]
    fn bad_mounts_are_refused_by_name() {
        for (v, want) in [
            ("type=nfs,target=/x", "unsupported mount type"),
            ("type=cache", "requires a target"),
            ("type=bind,target=/x,bogus=1", "unexpected key 'bogus'"),
            (
                "type=cache,target=/x,sharing=sometimes",
                "unsupported sharing",
            ),
            ("type=tmpfs,target=/x,from=stage", "from is not allowed"),
            ("type=secret", "requires an id or a target"),
            ("type=cache,target=/x,mode=999", "invalid value for mode"),
            ("type=bind,target=/a/../etc", "'..' is not allowed"),
            ("type=secret,id=../x", "invalid secret id"),
            ("type=tmpfs,target=/t,size=lots", "invalid size"),
        ] {
            let e = parse_mount(v).unwrap_err();
            assert!(e.contains(want), "{v}: {e}");
        }
    }

    #[test]
    fn network_and_security() {
        let f = run_flags(&flags(&[("network", "none"), ("security", "insecure")])).unwrap();
        assert_eq!(f.network, RunNetwork::None);
        assert!(f.insecure);
        assert!(run_flags(&flags(&[("network", "bridge")])).is_err());
        assert!(run_flags(&flags(&[("security", "lax")])).is_err());
    }
}
