//! cgroup v2 device control: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE built
//! from the OCI device rules and attached to the cgroup directory.
//!
//! Semantics follow the v1 device cgroup: rules apply in order, a later rule overrides an
//! earlier one, and a cgroup starts with everything allowed (a leading "deny all" rule,
//! as engines write, makes it an allow-list). The program checks the rules from the last
//! to the first and returns the verdict of the first that matches:
//! - an allow rule matches when the requested access is a subset of its access;
//! - a deny rule matches when the requested access overlaps its access.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};

/// One eBPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst register in the low nibble, src in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV64_K: u8 = 0xb7;
const AND64_K: u8 = 0x57;
const RSH64_K: u8 = 0x77;
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JEQ_K: u8 = 0x15;
const EXIT: u8 = 0x95;

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

const DEV_BLOCK: i32 = 1; // BPF_DEVCG_DEV_BLOCK
const DEV_CHAR: i32 = 2; // BPF_DEVCG_DEV_CHAR
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// The `r`, `w` and `m` of a rule's access (all three when it is unset or empty). Other letters
/// mean nothing to the kernel: as runc, they are dropped (with a warning) rather than refused,
/// which only narrows what the rule allows or denies. An access left empty makes the rule
/// match nothing: callers skip it.
pub(crate) fn access(field: &str, access: Option<&str>) -> String {
    let access = access.filter(|a| !a.is_empty()).unwrap_or("rwm");
    let known: String = access
        .chars()
        .filter(|c| matches!(c, 'r' | 'w' | 'm'))
        .collect();
    if known.len() != access.len() {
        crate::warn(&format!(
            "linux.resources.{field}.access {access:?}: only r, w and m mean something; using {known:?}"
        ));
    }
    known
}

/// Builds the program for `rules`.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
    // r2 = access (access_type >> 16), r3 = type (access_type & 0xffff), r4 = major,
    // r5 = minor.
    let mut p = vec![
        ins(LDX_W, 2, 1, 0, 0),
        ins(MOV64_X, 3, 2, 0, 0),
        ins(AND64_K, 3, 0, 0, 0xffff),
        ins(RSH64_K, 2, 0, 0, 16),
        ins(LDX_W, 4, 1, 4, 0),
        ins(LDX_W, 5, 1, 8, 0),
    ];
    for (i, r) in rules.iter().enumerate().rev() {
        let field = format!("devices[{i}]");
        let ty = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
            LinuxDeviceType::P => {
                return Err(Error::invalid(
                    format!("{field}.type"),
                    "fifo (p) devices cannot be controlled by the device cgroup",
                ))
            }
        };
        let access = access(&field, r.access().as_deref());
        if access.is_empty() {
            continue;
        }
        let mut acc = 0;
        for c in access.chars() {
            acc |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => ACC_MKNOD,
            };
        }
        let num = |v: Option<i64>, name: &str| -> Result<Option<i32>> {
            match v {
                None | Some(-1) => Ok(None),
                Some(n) if (0..=i32::MAX as i64).contains(&n) => Ok(Some(n as i32)),
                Some(n) => Err(Error::invalid(format!("{field}.{name}"), format!("{n}"))),
            }
        };
        let major = num(r.major(), "major")?;
        let minor = num(r.minor(), "minor")?;

        // Jumps to the next block are patched once the block length is known.
        let mut block: Vec<Insn> = Vec::new();
        let mut jumps = Vec::new();
        if let Some(t) = ty {
            jumps.push(block.len());
            block.push(ins(JNE_K, 3, 0, 0, t));
        }
        block.push(ins(MOV64_X, 0, 2, 0, 0));
        if r.allow() {
            block.push(ins(AND64_K, 0, 0, 0, !acc & 7));
            jumps.push(block.len());
            block.push(ins(JNE_K, 0, 0, 0, 0));
        } else {
            block.push(ins(AND64_K, 0, 0, 0, acc));
            jumps.push(block.len());
            block.push(ins(JEQ_K, 0, 0, 0, 0));
        }
        if let Some(m) = major {
            jumps.push(block.len());
            block.push(ins(JNE_K, 4, 0, 0, m));
        }
        if let Some(m) = minor {
            jumps.push(block.len());
            block.push(ins(JNE_K, 5, 0, 0, m));
        }
        block.push(ins(MOV64_K, 0, 0, 0, r.allow() as i32));
        block.push(ins(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for j in jumps {
            block[j].off = (len - j - 1) as i16;
        }
        p.extend(block);
    }
    // No rule matched: the initial state of a device cgroup, everything allowed.
    p.push(ins(MOV64_K, 0, 0, 0, 1));
    p.push(ins(EXIT, 0, 0, 0, 0));
    Ok(p)
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

/// Loads the program for `rules` and attaches it to the cgroup directory `dir`,
/// replacing the program a previous call attached (attach without flags replaces).
pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = program(rules)?;
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"berth_device");
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    // SAFETY: attr and the buffers it points to outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    if fd < 0 {
        let source = std::io::Error::last_os_error();
        let verifier = String::from_utf8_lossy(&log);
        let verifier = verifier.trim_end_matches('\0').trim();
        return Err(Error::Sys {
            op: format!(
                "load the device eBPF program for linux.resources.devices (verifier: {verifier:?})"
            ),
            source,
        });
    }
    // SAFETY: a fresh fd we own.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = std::fs::File::open(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let attach = ProgAttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    // SAFETY: attr outlives the call; fds are valid.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attach as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if r < 0 {
        return Err(Error::Sys {
            op: format!(
                "attach the device eBPF program for linux.resources.devices to {}",
                dir.display()
            ),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    /// Runs the program on one request, as the kernel would.
    fn run(p: &[Insn], ty: i32, acc: i32, major: i32, minor: i32) -> i64 {
        let mut r = [0i64; 11];
        let ctx = [((acc << 16) | ty) as i64, major as i64, minor as i64];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[d] = ctx[i.off as usize / 4],
                MOV64_X => r[d] = r[s],
                MOV64_K => r[d] = i.imm as i64,
                AND64_K => r[d] &= i.imm as i64,
                RSH64_K => r[d] >>= i.imm,
                JNE_K if r[d] != i.imm as i64 => pc = (pc as i64 + i.off as i64) as usize,
                JEQ_K if r[d] == i.imm as i64 => pc = (pc as i64 + i.off as i64) as usize,
                JNE_K | JEQ_K => {}
                EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        t: LinuxDeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(t)
            .access(acc);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    #[test]
    fn program_semantics() {
        use LinuxDeviceType::*;
        let rules = vec![
            rule(false, A, None, None, "rwm"),
            rule(true, C, Some(1), Some(3), "rwm"),
            rule(true, C, Some(136), None, "rw"),
            rule(true, A, None, None, "m"),
            rule(false, C, Some(136), Some(5), "w"),
        ];
        let p = program(&rules).unwrap();
        let rw = ACC_READ | ACC_WRITE;
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 5), 0, "/dev/zero");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 3), 0, "block 1:3");
        assert_eq!(run(&p, DEV_CHAR, rw, 136, 0), 1, "pts 0");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 5), 1, "pts 5 read");
        assert_eq!(
            run(&p, DEV_CHAR, ACC_WRITE, 136, 5),
            0,
            "pts 5 write denied"
        );
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1, "mknod anything");
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD | ACC_READ, 8, 0), 0);
        // Without a leading deny-all, everything not denied stays allowed.
        let p = program(&[rule(false, C, Some(1), Some(5), "rwm")]).unwrap();
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 5), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 1);
        let e = program(&[rule(true, P, None, None, "rwm")]).unwrap_err();
        assert!(e.to_string().contains("devices[0].type"), "{e}");
        // runc's "rwa": the unknown letter is dropped, the rest still applies
        let p = program(&[
            rule(false, A, None, None, "rwm"),
            rule(true, C, Some(1), Some(11), "rwa"),
        ])
        .unwrap();
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 11), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 11), 0);
        // nothing left: the rule matches nothing
        let p = program(&[
            rule(false, A, None, None, "rwm"),
            rule(true, C, Some(1), Some(11), "a"),
        ])
        .unwrap();
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 11), 0);
    }
}
