//! Live updates (`/ui/events`): server-sent events whenever the chain moves.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};

use super::page::User;
use super::state::Dash;
use crate::state::AppState;

/// Server-sent events: `change` (with the chain's head) whenever the store's chain moves.
pub async fn events(
    State(state): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    _user: User,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = dash.head(&state).await;
    // The stream ends when the server shuts down: an open page must not hold up a graceful
    // shutdown (the browser reconnects to the next server).
    let stream = futures_util::stream::unfold((rx, state), |(mut rx, state)| async move {
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    changed.ok()?;
                    let seq = *rx.borrow_and_update();
                    return Some((
                        Ok(SseEvent::default().event("change").data(seq.to_string())),
                        (rx, state),
                    ));
                }
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                    if !state.is_ready() {
                        return None;
                    }
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
