//! The web dashboard (`/ui/…`): server-rendered HTML (askama templates under `templates/`),
//! readable without JavaScript; the vendored htmx and its SSE extension only refresh the live
//! parts when the store changes. Login takes an API token and keeps a server-side session bound
//! to it (a revoked token ends its sessions at once); every form posts with a per-session CSRF
//! token, and every POST re-checks the role of the token behind the session.
//!
//! Nothing is decided here: pages read the store's queries, changes go through
//! `portcullis_firewall::registry`, and re-gating is `Firewall::decide` + `Firewall::record`.

mod advisories;
mod assets;
mod audit;
mod auth;
mod canary;
mod decision;
mod decisions;
mod diff;
mod environments;
mod events;
mod exceptions;
mod lines;
mod overview;
mod page;
mod pipelines;
mod posture;
mod regate;
mod report;
mod rules;
mod session;
mod state;
mod watches;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

pub use auth::{COOKIE, Transport};
pub use page::{PageError, User};

use crate::state::AppState;

/// The dashboard's routes (every one under `/ui`, plus `/` sending browsers there).
pub fn router() -> Router<Arc<AppState>> {
    let dash = Arc::new(state::Dash::new());
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(overview::overview))
        .route("/ui/", get(|| async { Redirect::to("/ui") }))
        .route("/ui/login", get(session::login_form).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/events", get(events::events))
        .route("/ui/decisions", get(decisions::decisions))
        .route("/ui/decisions/{id}", get(decision::decision))
        .route("/ui/decisions/{id}/regate", post(decision::regate))
        .route("/ui/decisions/{id}/approve", post(decision::approve))
        .route(
            "/ui/decisions/{id}/approvals/{approval}/revoke",
            post(decision::revoke_approval),
        )
        .route("/ui/decisions/{id}/proof", get(decision::proof))
        .route("/ui/canary/{digest}", get(canary::canary))
        .route("/ui/environments", get(environments::environments))
        .route("/ui/posture", get(posture::posture))
        .route("/ui/watches", get(watches::watches))
        .route(
            "/ui/advisories",
            get(advisories::advisories).post(advisories::add_advisory),
        )
        .route(
            "/ui/advisories/{id}/withdraw",
            post(advisories::withdraw_advisory),
        )
        .route(
            "/ui/exceptions",
            get(exceptions::exceptions).post(exceptions::grant_exception),
        )
        .route(
            "/ui/exceptions/{id}/revoke",
            post(exceptions::revoke_exception),
        )
        .route("/ui/rules", get(rules::rules))
        .route("/ui/pipelines", get(pipelines::pipelines))
        .route("/ui/audit", get(audit::audit))
        .route("/ui/report", get(report::report))
        .route("/ui/assets/{hash}/{name}", get(assets::asset))
        .layer(axum::Extension(dash))
}
