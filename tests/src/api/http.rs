//! Raw HTTP responses read off the API socket.

/// An HTTP response read off the socket.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parse a raw HTTP/1.x response.
pub(super) fn parse_http(raw: &[u8], head: bool) -> std::io::Result<HttpResponse> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head_txt = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head_txt.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if head {
        body.clear();
    } else if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let size_txt = String::from_utf8_lossy(&rest[..nl]);
            let size = usize::from_str_radix(size_txt.split(';').next().unwrap().trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            rest = &rest[nl + 2..];
            if size == 0 || rest.len() < size {
                out.extend_from_slice(&rest[..size.min(rest.len())]);
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or(&[]);
        }
        body = out;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Start an [`ApiServer`], or skip the test (eprintln + return) when not root.
#[macro_export]
macro_rules! api_server {
    () => {
        $crate::api_server!($crate::api::ServerOptions::default())
    };
    ($opts:expr) => {{
        if !$crate::is_root() {
            eprintln!("SKIP: API tests need root (euid 0)");
            return;
        }
        $crate::api::ApiServer::start_with($opts)
    }};
}

/// Skip a berth-only test when the suite runs against dockerd.
#[macro_export]
macro_rules! api_berth_only {
    ($s:expr, $why:expr) => {
        if $s.is_docker() {
            eprintln!("SKIP (berth only): {}", $why);
            return;
        }
    };
}
