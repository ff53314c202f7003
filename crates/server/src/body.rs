//! Request bodies: JSON only, size-limited (the router's limit), unknown fields refused, and
//! every error a problem document that says where in the body it is.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::problem::{Problem, codes};

/// A JSON body of type `T`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let bytes = read_bytes(req, state).await?;
        parse(&bytes).map(Json)
    }
}

/// 415 unless the body is sent as JSON (`application/json` or `application/*+json`).
pub fn require_json(headers: &HeaderMap) -> Result<(), Problem> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
        .unwrap_or(false);
    if !json_type {
        return Err(Problem::new(
            codes::UNSUPPORTED_MEDIA_TYPE,
            "send the body with Content-Type: application/json",
        ));
    }
    Ok(())
}

/// The raw body, within the size limit.
pub async fn read_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state).await.map_err(|e| {
        let text = e.body_text();
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(codes::BODY_TOO_LARGE, text)
        } else {
            Problem::new(
                codes::INVALID_REQUEST,
                format!("cannot read the body: {text}"),
            )
        }
    })
}

/// Parse JSON into `T`, naming the place of the error (JSON pointer, line and column).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    if let Ok(v) = parsed {
        return de.end().map(|()| v).map_err(|e| {
            Problem::new(
                codes::MALFORMED_JSON,
                format!("request body, line {} column {}: {e}", e.line(), e.column()),
            )
        });
    }
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => {
            let inner = e.inner();
            let pointer = pointer(e.path());
            let place = format!("line {} column {}", inner.line(), inner.column());
            if inner.is_syntax() || inner.is_eof() {
                Err(Problem::new(
                    codes::MALFORMED_JSON,
                    format!("request body, {place}: {inner}"),
                ))
            } else {
                Err(Problem::new(
                    codes::INVALID_REQUEST,
                    format!("request body at {pointer} ({place}): {inner}"),
                ))
            }
        }
    }
}

/// The JSON pointer of the place (`/` for the whole body).
fn pointer(path: &serde_path_to_error::Path) -> String {
    let p = portcullis_evidence::json::path_to_pointer(path);
    if p.is_empty() { "/".into() } else { p }
}
