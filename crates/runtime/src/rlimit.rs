//! The rlimit names of the OCI spec and their resource numbers: a leaf module shared by the
//! process setup (which applies `process.rlimits`) and the syscall layer (which names a limit
//! in its errors), so neither depends on the other.

use oci_spec::runtime::PosixRlimitType;

const RLIMITS: &[(&str, i32)] = &[
    ("RLIMIT_CPU", libc::RLIMIT_CPU as i32),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE as i32),
    ("RLIMIT_DATA", libc::RLIMIT_DATA as i32),
    ("RLIMIT_STACK", libc::RLIMIT_STACK as i32),
    ("RLIMIT_CORE", libc::RLIMIT_CORE as i32),
    ("RLIMIT_RSS", libc::RLIMIT_RSS as i32),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC as i32),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE as i32),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK as i32),
    ("RLIMIT_AS", libc::RLIMIT_AS as i32),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS as i32),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING as i32),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE as i32),
    ("RLIMIT_NICE", libc::RLIMIT_NICE as i32),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO as i32),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME as i32),
];

pub fn rlimit_name(resource: i32) -> &'static str {
    RLIMITS
        .iter()
        .find(|(_, r)| *r == resource)
        .map(|(n, _)| *n)
        .unwrap_or("RLIMIT_?")
}

pub fn rlimit_resource(typ: PosixRlimitType) -> i32 {
    use PosixRlimitType::*;
    let name = match typ {
        RlimitCpu => "RLIMIT_CPU",
        RlimitFsize => "RLIMIT_FSIZE",
        RlimitData => "RLIMIT_DATA",
        RlimitStack => "RLIMIT_STACK",
        RlimitCore => "RLIMIT_CORE",
        RlimitRss => "RLIMIT_RSS",
        RlimitNproc => "RLIMIT_NPROC",
        RlimitNofile => "RLIMIT_NOFILE",
        RlimitMemlock => "RLIMIT_MEMLOCK",
        RlimitAs => "RLIMIT_AS",
        RlimitLocks => "RLIMIT_LOCKS",
        RlimitSigpending => "RLIMIT_SIGPENDING",
        RlimitMsgqueue => "RLIMIT_MSGQUEUE",
        RlimitNice => "RLIMIT_NICE",
        RlimitRtprio => "RLIMIT_RTPRIO",
        RlimitRttime => "RLIMIT_RTTIME",
    };
    RLIMITS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
        .unwrap_or(-1)
}
