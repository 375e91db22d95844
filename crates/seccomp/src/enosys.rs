//! The ENOSYS prologue: syscalls newer than the profile must fail with ENOSYS, not EPERM.
//!
//! A profile lists the syscalls it knows about. A program built against a newer kernel may
//! try a syscall the profile has never heard of (clone3, openat2, faccessat2 ... when they
//! were new); glibc and language runtimes treat ENOSYS as "this kernel does not have it" and
//! fall back to the old call, but EPERM as a hard failure. So with a default action that
//! denies (an errno, kill or trap), every syscall numbered above the highest one the profile
//! names for an architecture gets ENOSYS instead, as runc's "enosys stub" does. A syscall the
//! profile knows about but does not allow keeps the default action.
//!
//! libseccomp cannot express "nr > N", so the check is a few hand-assembled classic BPF
//! instructions placed before libseccomp's exported program:
//!
//! ```text
//!       ld  [4]                     ; seccomp_data.arch
//!       jeq AUDIT_ARCH_1, 0, n1     ; one section per architecture in the filter
//!         ld  [0]                   ; seccomp_data.nr
//!         jgt MAX_1, ENOSYS, 0
//!         ja  END
//!       ...
//!       ja  END                     ; an architecture we have no section for
//! ENOSYS: ret ERRNO(ENOSYS)
//! END:  (libseccomp's program, which starts by loading the arch again)
//! ```
//!
//! x32 shares AUDIT_ARCH_X86_64 with x86-64 and is told apart by bit 30 of the syscall
//! number, so that section compares numbers with the bit against x32's maximum and numbers
//! without it against x86-64's. A range whose ABI is not in the filter goes to libseccomp
//! unchanged (which applies its bad-architecture action).

use libseccomp::{ScmpAction, ScmpArch, ScmpSyscall};

const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
/// offsetof(struct seccomp_data, nr) and (.., arch)
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

/// Whether the default action denies, so that unknown syscalls should rather get ENOSYS.
/// Allow, log and trace leave unknown syscalls alone; an errno default of ENOSYS already is.
pub(crate) fn wanted(default: ScmpAction) -> bool {
    match default {
        ScmpAction::Errno(e) => e != libc::ENOSYS,
        ScmpAction::KillThread | ScmpAction::KillProcess | ScmpAction::Trap => true,
        _ => false,
    }
}

/// The value the kernel puts in `seccomp_data.arch` for an architecture, and whether it is
/// x32 (same value as x86-64, syscall numbers with bit 30 set).
fn audit_arch(a: ScmpArch) -> Option<(u32, bool)> {
    const B64: u32 = 0x8000_0000;
    const LE: u32 = 0x4000_0000;
    const N32: u32 = 0x2000_0000;
    let a = if a == ScmpArch::Native {
        ScmpArch::native()
    } else {
        a
    };
    Some(match a {
        ScmpArch::X86 => (LE | 3, false),
        ScmpArch::X8664 => (B64 | LE | 62, false),
        ScmpArch::X32 => (B64 | LE | 62, true),
        ScmpArch::Arm => (LE | 40, false),
        ScmpArch::Aarch64 => (B64 | LE | 183, false),
        ScmpArch::Mips => (8, false),
        ScmpArch::Mipsel => (LE | 8, false),
        ScmpArch::Mips64 => (B64 | 8, false),
        ScmpArch::Mipsel64 => (B64 | LE | 8, false),
        ScmpArch::Mips64N32 => (B64 | N32 | 8, false),
        ScmpArch::Mipsel64N32 => (B64 | LE | N32 | 8, false),
        ScmpArch::Ppc => (20, false),
        ScmpArch::Ppc64 => (B64 | 21, false),
        ScmpArch::Ppc64Le => (B64 | LE | 21, false),
        ScmpArch::S390 => (22, false),
        ScmpArch::S390X => (B64 | 22, false),
        ScmpArch::Parisc => (15, false),
        ScmpArch::Parisc64 => (B64 | 15, false),
        ScmpArch::Riscv64 => (B64 | LE | 243, false),
        ScmpArch::Loongarch64 => (B64 | LE | 258, false),
        ScmpArch::M68k => (4, false),
        ScmpArch::Sh => (LE | 42, false),
        ScmpArch::Sheb => (42, false),
        _ => return None,
    })
}

/// The highest syscall numbers the profile names, per `seccomp_data.arch`: (plain, x32).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ArchMax {
    pub audit: u32,
    pub plain: Option<u32>,
    pub x32: Option<u32>,
}

/// Per architecture of the filter, the highest number among `names` (names an architecture
/// does not have, and libseccomp's negative pseudo numbers, do not count).
pub(crate) fn max_per_arch(arches: &[ScmpArch], names: &[&str]) -> Vec<ArchMax> {
    let mut out: Vec<ArchMax> = Vec::new();
    for &a in arches {
        let Some((audit, x32)) = audit_arch(a) else {
            continue;
        };
        let max = names
            .iter()
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, a).ok())
            .map(i32::from)
            .filter(|nr| *nr >= 0)
            .map(|nr| nr as u32)
            .max();
        let i = match out.iter().position(|m| m.audit == audit) {
            Some(i) => i,
            None => {
                out.push(ArchMax {
                    audit,
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let slot = if x32 {
            &mut out[i].x32
        } else {
            &mut out[i].plain
        };
        *slot = (*slot).max(max);
    }
    out.retain(|m| m.plain.is_some() || m.x32.is_some());
    out
}

#[derive(Clone, Copy)]
enum Target {
    /// skip this many instructions (0: the next one)
    Skip(u32),
    /// the shared `ret ERRNO(ENOSYS)`
    Enosys,
    /// libseccomp's program
    End,
}

struct Insn {
    code: u16,
    k: u32,
    jt: Target,
    jf: Target,
}

fn insn(code: u16, k: u32) -> Insn {
    jump(code, k, Target::Skip(0), Target::Skip(0))
}

fn jump(code: u16, k: u32, jt: Target, jf: Target) -> Insn {
    Insn { code, k, jt, jf }
}

/// `nr > max` goes to ENOSYS, anything else to libseccomp; without a max, all of it does.
fn check(max: Option<u32>) -> Vec<Insn> {
    let mut v = Vec::new();
    if let Some(max) = max {
        v.push(jump(BPF_JMP_JGT_K, max, Target::Enosys, Target::Skip(0)));
    }
    v.push(jump(BPF_JMP_JA, 0, Target::End, Target::End));
    v
}

/// The body of one architecture's section, after its `jeq arch` test.
fn section(m: &ArchMax) -> Vec<Insn> {
    let mut v = vec![insn(BPF_LD_W_ABS, DATA_NR)];
    if m.x32.is_none() {
        v.extend(check(m.plain));
        return v;
    }
    let low = check(m.plain);
    v.push(jump(
        BPF_JMP_JGE_K,
        X32_SYSCALL_BIT,
        Target::Skip(low.len() as u32),
        Target::Skip(0),
    ));
    v.extend(low);
    v.extend(check(m.x32));
    v
}

/// The prologue as raw `struct sock_filter` bytes (native endian), or nothing when no
/// architecture has a known maximum.
pub(crate) fn prologue(maxes: &[ArchMax], errno: u32) -> Vec<u8> {
    if maxes.is_empty() {
        return Vec::new();
    }
    let mut prog: Vec<Insn> = vec![insn(BPF_LD_W_ABS, DATA_ARCH)];
    for m in maxes {
        let body = section(m);
        prog.push(jump(
            BPF_JMP_JEQ_K,
            m.audit,
            Target::Skip(0),
            Target::Skip(body.len() as u32),
        ));
        prog.extend(body);
    }
    prog.push(jump(BPF_JMP_JA, 0, Target::End, Target::End));
    prog.push(insn(BPF_RET_K, SECCOMP_RET_ERRNO | errno));
    assemble(&prog)
}

/// Resolves jump targets into offsets and encodes `struct sock_filter`s.
fn assemble(prog: &[Insn]) -> Vec<u8> {
    let n = prog.len();
    let enosys = n - 1; // the ret is last; libseccomp's program starts at n
    let mut out = Vec::with_capacity(n * 8);
    for (pc, i) in prog.iter().enumerate() {
        let off = |t: Target| -> u32 {
            match t {
                Target::Skip(s) => s,
                Target::Enosys => (enosys - pc - 1) as u32,
                Target::End => (n - pc - 1) as u32,
            }
        };
        let (jt, jf, k) = if i.code == BPF_JMP_JA {
            (0, 0, off(i.jt))
        } else {
            (off(i.jt), off(i.jf), i.k)
        };
        assert!(jt < 256 && jf < 256, "prologue jump out of range");
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(jt as u8);
        out.push(jf as u8);
        out.extend_from_slice(&k.to_ne_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prologue's verdict; `None` means the program fell through to libseccomp's part.
    fn run(code: &[u8], arch: u32, nr: u32) -> Option<u32> {
        crate::interp::run(code, &crate::interp::Data::call(arch, nr)).0
    }

    const X86_64: u32 = 0xc000_003e;
    const I386: u32 = 0x4000_0003;
    const ENOSYS: Option<u32> = Some(SECCOMP_RET_ERRNO | 38);

    #[test]
    fn numbers_above_the_highest_known_get_enosys_per_arch() {
        let maxes = vec![
            ArchMax {
                audit: X86_64,
                plain: Some(435),
                x32: Some(X32_SYSCALL_BIT | 547),
            },
            ArchMax {
                audit: I386,
                plain: Some(300),
                x32: None,
            },
        ];
        let p = prologue(&maxes, 38);
        assert_eq!(run(&p, X86_64, 0), None);
        assert_eq!(run(&p, X86_64, 435), None);
        assert_eq!(run(&p, X86_64, 436), ENOSYS);
        assert_eq!(run(&p, X86_64, 1000), ENOSYS);
        assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 5), None);
        assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 547), None);
        assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 548), ENOSYS);
        assert_eq!(run(&p, X86_64, u32::MAX), ENOSYS);
        assert_eq!(run(&p, I386, 300), None);
        assert_eq!(run(&p, I386, 301), ENOSYS);
        // an architecture without a section is libseccomp's business
        assert_eq!(run(&p, 0xc000_00b7, 5000), None);
    }

    #[test]
    fn an_abi_missing_from_the_filter_is_left_to_libseccomp() {
        let only64 = [ArchMax {
            audit: X86_64,
            plain: Some(435),
            x32: None,
        }];
        let p = prologue(&only64, 38);
        assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 5000), ENOSYS);
        let only_x32 = [ArchMax {
            audit: X86_64,
            plain: None,
            x32: Some(X32_SYSCALL_BIT | 547),
        }];
        let p = prologue(&only_x32, 38);
        assert_eq!(run(&p, X86_64, 1000), None);
        assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 600), ENOSYS);
        assert!(prologue(&[], 38).is_empty());
    }

    #[test]
    fn maxima_come_from_the_names_per_arch() {
        if !cfg!(target_arch = "x86_64") {
            return;
        }
        let m = max_per_arch(
            &[ScmpArch::Native, ScmpArch::X86, ScmpArch::X32],
            &["read", "write", "openat", "no_such_call"],
        );
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].audit, X86_64);
        assert_eq!(m[0].plain, Some(257)); // openat
        assert_eq!(m[0].x32, Some(X32_SYSCALL_BIT | 257));
        assert_eq!(m[1].audit, I386);
        assert_eq!(m[1].plain, Some(295)); // openat on i386
        assert!(max_per_arch(&[ScmpArch::Native], &["no_such_call"]).is_empty());
    }

    #[test]
    fn only_denying_defaults_want_the_prologue() {
        assert!(wanted(ScmpAction::Errno(libc::EPERM)));
        assert!(wanted(ScmpAction::KillProcess));
        assert!(wanted(ScmpAction::KillThread));
        assert!(!wanted(ScmpAction::Errno(libc::ENOSYS)));
        assert!(!wanted(ScmpAction::Allow));
        assert!(!wanted(ScmpAction::Log));
    }
}
