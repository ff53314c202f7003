//! The vendored assets (`/ui/assets/{hash}/{name}`), cached for a year under their hash.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::page::{ASSETS, PageError};

pub async fn asset(Path((hash, name)): Path<(String, String)>) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return PageError::not_found(format!("no asset {name}")).into_response();
    };
    let mut r = a.bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // An old hash still gets the current file, but is not cached for long.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if hash == a.hash {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    r
}
