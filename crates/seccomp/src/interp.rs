//! A classic BPF interpreter for the tests: runs a seccomp program on one syscall's data and
//! counts the instructions it executed (what each syscall of the container pays, and what the
//! kernel pays per syscall number when it loads the filter).

/// The part of `struct seccomp_data` a test sets: the audit arch, the number, the arguments.
pub(crate) struct Data {
    pub arch: u32,
    pub nr: u32,
    pub args: [u64; 6],
}

impl Data {
    pub fn call(arch: u32, nr: u32) -> Data {
        Data {
            arch,
            nr,
            args: [0; 6],
        }
    }

    /// The 32-bit word at `off` of seccomp_data (little-endian halves of the arguments).
    fn word(&self, off: u32) -> u32 {
        match off {
            0 => self.nr,
            4 => self.arch,
            16..=63 => {
                let a = self.args[(off as usize - 16) / 8];
                if off.is_multiple_of(8) {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => 0,
        }
    }
}

/// The program's verdict (`None`: it ran off its end) and the instructions executed.
pub(crate) fn run(code: &[u8], d: &Data) -> (Option<u32>, usize) {
    let insns: Vec<(u16, u8, u8, u32)> = code
        .chunks(8)
        .map(|c| {
            (
                u16::from_ne_bytes([c[0], c[1]]),
                c[2],
                c[3],
                u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            )
        })
        .collect();
    let (mut pc, mut a, mut x, mut mem, mut steps) = (0usize, 0u32, 0u32, [0u32; 16], 0usize);
    while pc < insns.len() {
        let (op, jt, jf, k) = insns[pc];
        steps += 1;
        let cond = |c: bool| if c { jt as usize } else { jf as usize };
        pc += 1 + match op {
            0x20 => {
                a = d.word(k);
                0
            }
            0x60 => {
                a = mem[k as usize];
                0
            }
            0x61 => {
                x = mem[k as usize];
                0
            }
            0x02 => {
                mem[k as usize] = a;
                0
            }
            0x03 => {
                mem[k as usize] = x;
                0
            }
            0x54 => {
                a &= k;
                0
            }
            0x07 => {
                x = a;
                0
            }
            0x87 => {
                a = x;
                0
            }
            0x05 => k as usize,
            0x15 => cond(a == k),
            0x25 => cond(a > k),
            0x35 => cond(a >= k),
            0x45 => cond(a & k != 0),
            0x06 => return (Some(k), steps),
            0x16 => return (Some(a), steps),
            _ => panic!("unexpected BPF op {op:#x} at {pc}"),
        };
    }
    assert_eq!(pc, insns.len(), "jumped past the end");
    (None, steps)
}
