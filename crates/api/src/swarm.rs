//! Swarm-mode endpoints, answered as dockerd answers on a node that is not in a swarm: berth has
//! no swarm mode, and clients rely on these exact answers (docker-py's `leave_swarm(force=True)`
//! treats 503 as "nothing to leave"; `docker node ls` and friends print the manager hint).

use crate::http::ApiError;
use axum::http::StatusCode;
use axum::routing::{any, get, post};
use axum::Router;

/// dockerd's answer to swarm calls on a node outside any swarm.
pub const NOT_IN_SWARM: &str = "This node is not part of a swarm";
/// dockerd's answer to manager-only calls (the swarm's spec, nodes, services, tasks, secrets,
/// configs).
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

pub fn routes() -> Router {
    let mut r = Router::new()
        .route("/swarm", get(not_a_manager))
        .route("/swarm/leave", post(not_in_swarm))
        .route("/swarm/update", post(not_a_manager))
        .route("/swarm/unlock", post(not_in_swarm))
        .route("/swarm/unlockkey", get(not_a_manager))
        .route("/swarm/init", post(unsupported))
        .route("/swarm/join", post(unsupported));
    for kind in ["nodes", "services", "tasks", "secrets", "configs"] {
        r = r
            .route(&format!("/{kind}"), any(not_a_manager))
            .route(&format!("/{kind}/{{*rest}}"), any(not_a_manager));
    }
    r
}

async fn not_in_swarm() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_IN_SWARM)
}

async fn not_a_manager() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_A_MANAGER)
}

/// Joining or creating a swarm is a feature berth does not have (dockerd's "not implemented").
async fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "swarm mode is not supported by berth",
    )
}
