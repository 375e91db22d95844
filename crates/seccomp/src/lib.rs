//! seccomp filters for the berth OCI runtime.
//!
//! [`compile`] turns the spec's `linux.seccomp` into a libseccomp filter, doing all
//! parsing and validation up front so the runtime can report a bad profile before the
//! container starts; [`Filter::load`] installs it, as the last step before `execve`
//! (after `prctl(PR_SET_NO_NEW_PRIVS)` when the spec asks for it).
//!
//! [`default_profile`] resolves the built-in profile (Docker's default semantics) for a
//! capability set, the way an engine does when it generates the OCI spec.
//!
//! ```no_run
//! # fn f(spec: &oci_spec::runtime::LinuxSeccomp) -> Result<(), seccomp::Error> {
//! let filter = seccomp::compile(spec)?; // in the runtime, before the container starts
//! for w in filter.warnings() {
//!     eprintln!("warning: {w}");
//! }
//! // ... in the container's init, right before execve:
//! filter.load()?;
//! # Ok(()) }
//! ```

mod enosys;
#[cfg(test)]
mod interp;
mod notify;
mod profile;

use std::collections::HashSet;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

pub use profile::{default_profile, parse_profile, DEFAULT_PROFILE_JSON, DOCKER_DEFAULT_CAPS};

/// Errors of the seccomp crate; messages name the spec field (`syscalls[3].args[0].op`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid seccomp {field}: {reason}")]
    Invalid { field: String, reason: String },

    #[error("seccomp {field} is not supported: {reason}")]
    Unsupported { field: String, reason: String },

    #[error("libseccomp {op}: {source}")]
    Libseccomp {
        op: String,
        source: libseccomp::error::SeccompError,
    },

    #[error("seccomp profile json: {0}")]
    Json(#[from] serde_json::Error),

    #[error("loading the seccomp filter: {0}")]
    Load(std::io::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn lib(op: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> Error {
    let op = op.into();
    move |source| Error::Libseccomp { op, source }
}

/// A compiled filter, ready to load: a libseccomp context, or the BPF program it produced
/// for the same profile earlier (see [`compile_cached`]).
#[derive(Debug)]
pub struct Filter {
    prog: Prog,
    warnings: Vec<String>,
    /// Some syscall is SCMP_ACT_NOTIFY: load with [`Filter::load_listener`].
    notify: bool,
    /// SECCOMP_FILTER_FLAG_* bits of the profile (for [`Filter::load_listener`]).
    flags: u32,
}

#[derive(Debug)]
enum Prog {
    /// libseccomp's context, the ENOSYS prologue that goes before its program (see
    /// [`enosys`]; empty when the profile needs none) and the SECCOMP_FILTER_FLAG_* bits
    Ctx {
        ctx: ScmpFilterContext,
        prologue: Vec<u8>,
        flags: u32,
    },
    /// raw `struct sock_filter` array and SECCOMP_FILTER_FLAG_* bits
    Bpf { code: Vec<u8>, flags: u32 },
}

// SAFETY: the libseccomp context is plain heap memory owned by this value; it is only
// used through &mut/owned access and never shared between threads concurrently.
unsafe impl Send for Filter {}

impl Filter {
    /// Things skipped while compiling (unknown syscall names, like runc does).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Installs the filter on the calling thread (and every thread with
    /// `SECCOMP_FILTER_FLAG_TSYNC`). The caller needs no_new_privs set or CAP_SYS_ADMIN:
    /// the filter does not set no_new_privs itself.
    pub fn load(self) -> Result<()> {
        match &self.prog {
            Prog::Ctx {
                prologue, flags, ..
            } if !prologue.is_empty() => load_bpf(&self.export_bpf()?, *flags).map(drop),
            Prog::Ctx { .. } => match self.prog {
                Prog::Ctx { ctx, .. } => ctx.load().map_err(lib("load filter")),
                Prog::Bpf { .. } => unreachable!(),
            },
            Prog::Bpf { code, flags } => load_bpf(code, *flags).map(drop),
        }
    }

    /// The filter in libseccomp's pseudo filter code, for debugging.
    pub fn export_pfc(&self, out: &impl std::os::fd::AsFd) -> Result<()> {
        match &self.prog {
            Prog::Ctx { ctx, .. } => ctx.export_pfc(out).map_err(lib("export pfc")),
            Prog::Bpf { .. } => Err(Error::Unsupported {
                field: "filter".into(),
                reason: "a cached BPF program has no pseudo filter code".into(),
            }),
        }
    }

    /// The whole program: the ENOSYS prologue, then libseccomp's.
    fn export_bpf(&self) -> Result<Vec<u8>> {
        let Prog::Ctx { ctx, prologue, .. } = &self.prog else {
            return Err(Error::Unsupported {
                field: "filter".into(),
                reason: "already a BPF program".into(),
            });
        };
        let name = c"berth-seccomp-bpf";
        // SAFETY: memfd_create with a valid C string; the fd is owned below.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::Load(std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor we own.
        let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        ctx.export_bpf(&f).map_err(lib("export bpf"))?;
        use std::io::{Read, Seek};
        f.seek(std::io::SeekFrom::Start(0)).map_err(Error::Load)?;
        let mut code = prologue.clone();
        f.read_to_end(&mut code).map_err(Error::Load)?;
        if code.len() / 8 > BPF_MAXINSNS {
            return Err(Error::Unsupported {
                field: "syscalls".into(),
                reason: format!(
                    "the filter needs {} BPF instructions, the kernel takes {BPF_MAXINSNS}",
                    code.len() / 8
                ),
            });
        }
        Ok(code)
    }
}

const BPF_MAXINSNS: usize = 4096;

/// Installs a raw `struct sock_filter` program with SECCOMP_SET_MODE_FILTER; returns the
/// syscall's result (the listener fd when `flags` asks for a new one).
fn load_bpf(code: &[u8], flags: u32) -> Result<libc::c_long> {
    let prog = libc::sock_fprog {
        len: (code.len() / 8) as u16,
        filter: code.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `code`, a whole number of 8-byte sock_filter instructions
    // that outlive the call; the kernel copies them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            1u32, // SECCOMP_SET_MODE_FILTER
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(Error::Load(std::io::Error::last_os_error()));
    }
    Ok(rc)
}

/// The SECCOMP_FILTER_FLAG_* bits libseccomp passes for the spec's `flags`.
fn flag_bits(spec: &LinuxSeccomp) -> u32 {
    spec.flags()
        .iter()
        .flatten()
        .map(|f| match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 1,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => 2,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => 4,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        })
        .fold(0, |a, b| a | b)
}

/// Bumped whenever the cached program changes shape (02: with the ENOSYS prologue; 03: a
/// binary tree of the syscalls).
const CACHE_MAGIC: &[u8; 8] = b"BSCBPF03";

/// [`compile`], remembering the BPF program libseccomp produced in `cache_dir` (a directory
/// only root can write, e.g. the runtime's state root): compiling docker's default profile
/// takes several milliseconds, loading its cached program microseconds. The key is a SHA-256
/// of the profile, the architecture and the libseccomp version, so a different profile or
/// library never reuses a program.
pub fn compile_cached(spec: &LinuxSeccomp, cache_dir: &std::path::Path) -> Result<Filter> {
    if notify::check(spec)? {
        // loaded with a listener from libseccomp's context: never from the cache
        return compile(spec);
    }
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(spec).unwrap_or_default());
    h.update(std::env::consts::ARCH.as_bytes());
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        h.update(format!("{}.{}.{}", v.major, v.minor, v.micro).as_bytes());
    }
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir.join(format!("{key}.bpf"));
    if let Ok(bytes) = std::fs::read(&path) {
        if let Some(f) = decode_cached(&bytes) {
            return Ok(f);
        }
    }
    let f = compile(spec)?;
    if let Ok(code) = f.export_bpf() {
        let mut out = Vec::with_capacity(code.len() + 64);
        out.extend_from_slice(CACHE_MAGIC);
        out.extend_from_slice(&flag_bits(spec).to_le_bytes());
        let w = serde_json::to_vec(&f.warnings).unwrap_or_default();
        out.extend_from_slice(&(w.len() as u32).to_le_bytes());
        out.extend_from_slice(&w);
        out.extend_from_slice(&code);
        // best effort, written whole or not at all (temp file + rename)
        let _ = std::fs::create_dir_all(cache_dir);
        let tmp = cache_dir.join(format!(".{key}.{}", std::process::id()));
        if std::fs::write(&tmp, &out).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(f)
}

fn decode_cached(b: &[u8]) -> Option<Filter> {
    let rest = b.strip_prefix(CACHE_MAGIC.as_slice())?;
    let flags = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let wlen = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
    let warnings: Vec<String> = serde_json::from_slice(rest.get(8..8 + wlen)?).ok()?;
    let code = rest.get(8 + wlen..)?.to_vec();
    if code.is_empty() || code.len() % 8 != 0 || code.len() / 8 > u16::MAX as usize {
        return None;
    }
    Some(Filter {
        prog: Prog::Bpf { code, flags },
        warnings,
        notify: false,
        flags,
    })
}

fn action(field: &str, a: LinuxSeccompAction, errno_ret: Option<u32>) -> Result<ScmpAction> {
    if errno_ret.is_some()
        && !matches!(
            a,
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        )
    {
        return Err(invalid(
            field,
            format!("an errno return is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {a}"),
        ));
    }
    let errno = errno_ret.unwrap_or(libc::EPERM as u32);
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            let e = i32::try_from(errno)
                .ok()
                .filter(|e| *e <= 4095)
                .ok_or_else(|| invalid(field, format!("errno {errno} is above 4095")))?;
            ScmpAction::Errno(e)
        }
        LinuxSeccompAction::ScmpActTrace => {
            let e = u16::try_from(errno)
                .map_err(|_| invalid(field, format!("trace value {errno} is above 65535")))?;
            ScmpAction::Trace(e)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn compare(
    field: &str,
    op: LinuxSeccompOperator,
    index: usize,
    value: u64,
    two: Option<u64>,
) -> Result<ScmpArgCompare> {
    if index > 5 {
        return Err(invalid(
            format!("{field}.index"),
            format!("{index} is not a syscall argument index (0-5)"),
        ));
    }
    let (op, datum) = match op {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        // OCI: `value` is the mask, `valueTwo` the value the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            (ScmpCompareOp::MaskedEqual(value), two.unwrap_or(0))
        }
    };
    Ok(ScmpArgCompare::new(index as u32, op, datum))
}

/// Validates `spec` and builds the filter. Errors name the offending field; syscall
/// names unknown to libseccomp are skipped with a warning (see [`Filter::warnings`]).
///
/// Argument conditions of one syscall entry are AND-ed, except when several conditions
/// test the same argument: libseccomp cannot express that in one rule, so (like runc)
/// each condition then becomes a rule of its own, OR-ed.
pub fn compile(spec: &LinuxSeccomp) -> Result<Filter> {
    let default = action(
        "defaultAction",
        spec.default_action(),
        spec.default_errno_ret().filter(|_| {
            spec.default_action() == LinuxSeccompAction::ScmpActErrno
                || spec.default_action() == LinuxSeccompAction::ScmpActTrace
        }),
    )?;
    let notify = notify::check(spec)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib("create filter"))?;
    // The runtime sets no_new_privs itself when the spec asks for it.
    ctx.set_ctl_nnp(false)
        .map_err(lib("disable no_new_privs"))?;
    // A binary tree of the syscall numbers instead of libseccomp's default linear chain:
    // docker's default profile is ~1,000 instructions, and a syscall walked up to ~600 of
    // them, as did the kernel when it loads the filter (it runs the program for every syscall
    // number to find those it always allows): 0.7 ms of each container start. (libseccomp <
    // 2.5 has no such attribute: the chain it makes is as correct.)
    let _ = ctx.set_ctl_optimize(2);
    let mut arches = vec![ScmpArch::Native];
    for (i, a) in spec.architectures().iter().flatten().enumerate() {
        let sa = arch(*a);
        arches.push(sa);
        if ctx.is_arch_present(sa).unwrap_or(false) {
            continue;
        }
        ctx.add_arch(sa)
            .map_err(|e| invalid(format!("architectures[{i}]"), format!("{a}: {e}")))?;
    }
    for (i, f) in spec.flags().iter().flatten().enumerate() {
        let field = format!("flags[{i}]");
        let r = match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => ctx.set_ctl_log(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(Error::Unsupported {
                    field,
                    reason: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs user notification, which is not implemented".into(),
                })
            }
        };
        r.map_err(|e| Error::Unsupported {
            field,
            reason: format!("{f}: {e}"),
        })?;
    }
    let mut warnings = Vec::new();
    for (i, sc) in spec.syscalls().iter().flatten().enumerate() {
        let field = format!("syscalls[{i}]");
        if sc.names().is_empty() {
            return Err(invalid(format!("{field}.names"), "empty"));
        }
        let act = action(&format!("{field}.action"), sc.action(), sc.errno_ret())?;
        let mut conds = Vec::new();
        for (j, a) in sc.args().iter().flatten().enumerate() {
            conds.push(compare(
                &format!("{field}.args[{j}]"),
                a.op(),
                a.index(),
                a.value(),
                a.value_two(),
            )?);
        }
        let indexes: HashSet<usize> = sc.args().iter().flatten().map(|a| a.index()).collect();
        let separate = indexes.len() < conds.len();
        // A rule with the default action is redundant, and libseccomp refuses it.
        if act == default {
            continue;
        }
        for name in sc.names() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                warnings.push(format!("{field}.names: unknown syscall {name:?} skipped"));
                continue;
            };
            let op = format!("{field}: add rule for {name}");
            if conds.is_empty() {
                ctx.add_rule(act, nr).map_err(lib(op))?;
            } else if separate {
                for c in &conds {
                    ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                        .map_err(lib(op.clone()))?;
                }
            } else {
                ctx.add_rule_conditional(act, nr, &conds).map_err(lib(op))?;
            }
        }
    }
    let prologue = if enosys::wanted(default) {
        let names: Vec<&str> = spec
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().iter().map(String::as_str))
            .collect();
        enosys::prologue(&enosys::max_per_arch(&arches, &names), libc::ENOSYS as u32)
    } else {
        Vec::new()
    };
    Ok(Filter {
        prog: Prog::Ctx {
            ctx,
            prologue,
            flags: flag_bits(spec),
        },
        warnings,
        notify,
        flags: flag_bits(spec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_programs_are_cached_and_bad_cache_files_ignored() {
        let dir = std::env::temp_dir().join(format!("berth-seccomp-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spec = default_profile(&[]);
        let first = compile_cached(&spec, &dir).unwrap();
        assert!(matches!(first.prog, Prog::Ctx { .. }));
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "one program cached");
        let second = compile_cached(&spec, &dir).unwrap();
        let Prog::Bpf { code, .. } = &second.prog else {
            panic!("the second compile comes from the cache")
        };
        assert_eq!(code, &first.export_bpf().unwrap());
        assert_eq!(second.warnings(), first.warnings());
        // a truncated file is not trusted: the profile is compiled again
        std::fs::write(files[0].path(), b"BSCBPF01xx").unwrap();
        assert!(matches!(
            compile_cached(&spec, &dir).unwrap().prog,
            Prog::Ctx { .. }
        ));
        // another profile never reuses the program
        let other = default_profile(&["CAP_SYS_ADMIN".to_string()]);
        assert!(matches!(
            compile_cached(&other, &dir).unwrap().prog,
            Prog::Ctx { .. }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Docker's default profile walks a short path for every syscall: a binary tree of the
    /// numbers, not libseccomp's default chain (up to ~600 instructions per syscall, and the
    /// kernel ran every number through it at each container start: 0.7 ms). Its verdicts
    /// stay Docker's.
    #[test]
    fn the_default_profile_decides_every_syscall_in_few_instructions() {
        use interp::{run, Data};
        let docker: Vec<String> = DOCKER_DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
        let code = compile(&default_profile(&docker))
            .unwrap()
            .export_bpf()
            .unwrap();
        const X86_64: u32 = 0xc000_003e;
        const ALLOW: Option<u32> = Some(0x7fff_0000);
        const EPERM: Option<u32> = Some(0x0005_0000 | 1);
        let mut worst = (0, 0);
        for nr in 0..=470 {
            let (_, steps) = run(&code, &Data::call(X86_64, nr));
            worst = worst.max((steps, nr));
        }
        assert!(
            worst.0 <= 48,
            "syscall {} takes {} instructions",
            worst.1,
            worst.0
        );
        let nr = |n: &str| ScmpSyscall::from_name(n).unwrap().as_raw_syscall() as u32;
        for allowed in ["read", "write", "exit_group", "openat2", "close_range"] {
            let (v, _) = run(&code, &Data::call(X86_64, nr(allowed)));
            assert_eq!(v, ALLOW, "{allowed}");
        }
        for denied in [
            "reboot",
            "kexec_load",
            "init_module",
            "bpf",
            "open_by_handle_at",
        ] {
            let (v, _) = run(&code, &Data::call(X86_64, nr(denied)));
            assert_eq!(v, EPERM, "{denied}");
        }
        // (so that glibc falls back to clone, which the profile can inspect)
        let (v, _) = run(&code, &Data::call(X86_64, nr("clone3")));
        assert_eq!(v, Some(0x0005_0000 | 38), "clone3 gets ENOSYS");
        // an argument condition: personality(0) is allowed, personality(0x1234) is not
        let mut d = Data::call(X86_64, nr("personality"));
        assert_eq!(run(&code, &d).0, ALLOW);
        d.args[0] = 0x1234;
        assert_eq!(run(&code, &d).0, EPERM);
    }

    fn err(json: &str) -> String {
        match parse_profile(json) {
            Ok(p) => compile(&p).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_profiles_name_the_field() {
        let cases = [
            (
                r#"{"defaultAction":"SCMP_ACT_FOO"}"#,
                "defaultAction",
                "SCMP_ACT_FOO",
            ),
            (r#"{"syscalls":[]}"#, "defaultAction", "missing"),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_VAX"]}"#,
                "architectures[1]",
                "SCMP_ARCH_VAX",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NOPE"]}"#,
                "flags[0]",
                "NOPE",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["mkdir"],"action":"SCMP_ACT_DENY"}]}"#,
                "syscalls[1].action",
                "SCMP_ACT_DENY",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_SIMILAR"}]}]}"#,
                "syscalls[0].args[0].op",
                "SCMP_CMP_SIMILAR",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
                "syscalls[0].args[0].index",
                "0-5",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}"#,
                "syscalls[0].args[0].value",
                "unsigned",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"mkdir","action":"SCMP_ACT_ERRNO"}]}"#,
                "syscalls[0].names",
                "list",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ALLOW","errnoRet":1}]}"#,
                "syscalls[0].action",
                "errno",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":5000}]}"#,
                "syscalls[0].action",
                "4095",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
                "syscalls[0]",
                "SCMP_ACT_NOTIFY cannot be used for the write syscall",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#,
                "defaultAction",
                "SCMP_ACT_NOTIFY cannot be used as default action",
            ),
            (r#"["x"]"#, "profile", "object"),
            (r#"{"defaultAction": "#, "json", ""),
        ];
        for (json, field, detail) in cases {
            let e = err(json);
            assert!(
                e.contains(field) && e.contains(detail),
                "{json}: expected {field:?} and {detail:?} in {e:?}"
            );
        }
    }

    #[test]
    fn valid_profile_compiles_with_flags_and_arches() {
        let p = parse_profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls":[
                  {"names":["read","write","bogus_call"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["getpid"],"action":"SCMP_ACT_LOG"},
                  {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS"},
                  {"names":["tkill"],"action":"SCMP_ACT_KILL_THREAD"},
                  {"names":["tgkill"],"action":"SCMP_ACT_KILL"},
                  {"names":["getppid"],"action":"SCMP_ACT_TRAP"},
                  {"names":["getuid"],"action":"SCMP_ACT_TRACE","errnoRet":7},
                  {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
                  {"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[
                     {"index":1,"value":21505,"op":"SCMP_CMP_EQ"},
                     {"index":1,"value":21506,"op":"SCMP_CMP_EQ"}]},
                  {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[
                     {"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}
                ]}"#,
        )
        .unwrap();
        let f = compile(&p).unwrap();
        assert_eq!(f.warnings().len(), 1, "{:?}", f.warnings());
        assert!(f.warnings()[0].contains("bogus_call"));
    }

    fn names(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn default_profile_resolves_capabilities() {
        let docker: Vec<String> = DOCKER_DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
        let p = default_profile(&docker);
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(1));
        let n = names(&p);
        for allowed in [
            "read",
            "openat",
            "execve",
            "chroot",
            "clone",
            "socket",
            "personality",
        ] {
            assert!(n.iter().any(|x| x == allowed), "{allowed} missing");
        }
        for denied in [
            "mount",
            "unshare",
            "setns",
            "keyctl",
            "reboot",
            "init_module",
            "kcmp",
            "bpf",
            "acct",
            "settimeofday",
            "process_vm_readv",
        ] {
            assert!(!n.iter().any(|x| x == denied), "{denied} allowed");
        }
        // clone is only allowed without namespace flags; clone3 gets ENOSYS.
        let clone = p
            .syscalls()
            .iter()
            .flatten()
            .find(|s| s.names().iter().any(|x| x == "clone"))
            .unwrap();
        assert_eq!(
            clone.args().as_ref().unwrap()[0].op(),
            LinuxSeccompOperator::ScmpCmpMaskedEq
        );
        let clone3 = p
            .syscalls()
            .iter()
            .flatten()
            .find(|s| s.names().iter().any(|x| x == "clone3"))
            .unwrap();
        assert_eq!(clone3.errno_ret(), Some(38));
        if cfg!(target_arch = "x86_64") {
            let a = p.architectures().as_ref().unwrap();
            assert_eq!(a.len(), 3);
            assert!(n.iter().any(|x| x == "arch_prctl"));
        }

        // With CAP_SYS_ADMIN (any spelling) and friends.
        let mut more = docker.clone();
        more.extend(
            [
                "sys_admin",
                "CAP_SYS_PTRACE",
                "CAP_SYS_MODULE",
                "CAP_SYS_TIME",
            ]
            .map(String::from),
        );
        let p = default_profile(&more);
        let n = names(&p);
        for allowed in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "process_vm_readv",
            "init_module",
            "settimeofday",
            "bpf",
        ] {
            assert!(n.iter().any(|x| x == allowed), "{allowed} missing");
        }
        assert!(!n.iter().any(|x| x == "keyctl"));
        // No masked clone rule and no clone3 ENOSYS when clone is fully allowed.
        assert!(p
            .syscalls()
            .iter()
            .flatten()
            .all(|s| s.args().is_none() || !s.names().iter().any(|x| x == "clone")));
        assert!(!p
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActErrno));
        // Both compile.
        compile(&default_profile(&docker)).unwrap();
        compile(&p).unwrap();
        // The built-in json is itself a parseable profile.
        parse_profile(DEFAULT_PROFILE_JSON).unwrap();
    }
}
