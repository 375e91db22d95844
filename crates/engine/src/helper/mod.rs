//! berth's helper processes: the per-container monitor (`__monitor`), a
//! user network's DNS server (`__dns`) and an exec into a container (`__exec`, for the API
//! server, which must not clone into namespaces from its threads).
//!
//! The engine starts a helper as `berth --root ROOT __NAME LABEL...`: the name and label only
//! say in `ps` what the process is (and let the DNS server's pid file be checked against its
//! command line). What it is to do is a typed [`Request`], JSON on fd 4 ([`REQUEST_FD`]); a
//! detached helper reports back on a pipe at fd 3 ([`inherited_sync_fd`]). Their one entry
//! point, which the CLI's `main` hands any `__*` command line to, is the `entry` module.

pub mod exec;
pub mod request;
pub mod spawn;

pub use exec::{process, start, ExecError};
pub use request::{ExecRequest, Request, REQUEST_FD, SYNC_FD};
pub use spawn::{command, inherited_sync_fd, spawn_detached};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_name_themselves() {
        let reqs = [
            Request::Monitor {
                id: "abc".into(),
                attach: true,
            },
            Request::Dns {
                network: "n1".into(),
            },
            Request::Exec(ExecRequest {
                container: "c1".into(),
                cmd: vec!["sh".into()],
                tty: true,
                ..Default::default()
            }),
        ];
        for r in reqs {
            let back: Request = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
            assert_eq!(back, r);
        }
        assert_eq!(
            Request::Monitor {
                id: "abc".into(),
                attach: true
            }
            .argv(),
            ["__monitor", "abc", "--attach"]
        );
    }
}
