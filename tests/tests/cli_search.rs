//! `search` against a registry's `/v1/search` (a stand-in index served by the test): docker's
//! table with truncated descriptions, `--limit` sent as `n`, `--filter`, `--format`,
//! `--no-trunc`. berth only (dockerd would ask Docker Hub for a bare term); no root needed.

use berth_e2e::engine::berth_bin;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Serves one canned `/v1/search` answer per connection; records the request lines.
fn index(results: serde_json::Value) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            s.lock().unwrap().push(line.clone());
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let body =
                serde_json::json!({"num_results": 3, "query": "x", "results": results}).to_string();
            let mut c = c;
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

fn berth(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(berth_bin()).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn search_a_registry_index() {
    let long = "a very long description that goes on well past forty-five characters";
    let (addr, seen) = index(serde_json::json!([
        {"name": "busybox", "description": "tiny", "star_count": 3000, "is_official": true, "is_automated": false},
        {"name": "someone/busy", "description": long, "star_count": 3, "is_official": false, "is_automated": false},
    ]));
    let term = format!("{addr}/busy");
    let (code, out, err) = berth(&["search", "--limit", "7", &term]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME")
            && lines[0].contains("DESCRIPTION")
            && lines[0].contains("OFFICIAL"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("busybox") && lines[1].contains("[OK]"),
        "{out}"
    );
    assert!(
        lines[2].contains("a very long description that goes on well pa…"),
        "{out}"
    );
    let req = seen.lock().unwrap()[0].clone();
    assert!(
        req.starts_with("GET /v1/search?") && req.contains("q=busy") && req.contains("n=7"),
        "{req}"
    );

    let (_, out, _) = berth(&[
        "search",
        "--no-trunc",
        "--filter",
        "is-official=false",
        &term,
    ]);
    assert!(out.contains(long) && !out.contains("busybox "), "{out}");
    let (_, out, _) = berth(&[
        "search",
        "--filter",
        "stars=100",
        "--format",
        "{{.Name}}:{{.StarCount}}",
        &term,
    ]);
    assert_eq!(out.trim(), "busybox:3000");
    let (code, _, err) = berth(&["search", "--limit", "0", &term]);
    assert_ne!(code, 0);
    assert!(err.contains("limit"), "{err}");
}
