//! `GET /events`: the engine's event journal (events of the CLI, the monitors and the API
//! alike) as a stream of JSON objects, one per line, sent as they happen.

use crate::http::{channel_body, root, ApiResult, Q};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use chrono::Utc;
use engine::events::window::{follow, parse_bound, window};
use engine::events::{self, Follower};

pub fn routes() -> Router {
    Router::new().route("/events", get(stream))
}

async fn stream(q: Q) -> ApiResult<Response> {
    let now = Utc::now();
    let since = parse_bound("since", q.get("since"), now)?;
    let until = parse_bound("until", q.get("until"), now)?;
    let w = window(since, until, now.timestamp_nanos_opt().unwrap_or(0))?;
    let f = q.filters()?;
    events::validate_filters(&f)?;
    let run_root = engine::engine::run_root_of(&root());
    let (tx, body) = channel_body();
    // the journal is read on a blocking thread; the headers go out at once (clients such as
    // `docker stats` and docker-compose wait for them before going on)
    tokio::task::spawn_blocking(move || {
        let send = |ev: &events::Event| -> bool {
            let mut line = serde_json::to_vec(ev).unwrap_or_default();
            line.push(b'\n');
            tx.send(Bytes::from(line)).is_ok()
        };
        let (past, mut follower) = Follower::open(&run_root, w.history);
        for ev in past
            .iter()
            .filter(|ev| w.within(ev) && events::matches(&f, ev))
        {
            if !send(ev) {
                return;
            }
        }
        if !w.follow {
            return;
        }
        follow(&mut follower, &w, &f, &send, || tx.is_closed());
    });
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
