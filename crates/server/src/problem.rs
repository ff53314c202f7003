//! Errors as RFC 9457 problem documents, each with a stable `code` clients can match on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_firewall::registry::RegistryError;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// A problem: HTTP status, stable code, and what went wrong in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "https://portcullis.dev/problems/not-found")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable: clients and tests match on it.
    #[schema(schema_with = code_schema)]
    pub code: String,
}

/// Every code in [`codes::ALL`], each with its status and title.
fn code_schema() -> ObjectBuilder {
    let described: Vec<String> = codes::ALL
        .iter()
        .map(|(code, status, title)| format!("`{code}` ({}): {title}", status.as_u16()))
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes::ALL.iter().map(|(code, _, _)| *code)))
        .description(Some(format!(
            "Stable: clients match on it. {}.",
            described.join("; ")
        )))
}

/// The stable codes, with their status and title.
pub mod codes {
    use axum::http::StatusCode;

    pub const MALFORMED_JSON: (&str, StatusCode, &str) = (
        "malformed-json",
        StatusCode::BAD_REQUEST,
        "The body is not valid JSON",
    );
    pub const INVALID_REQUEST: (&str, StatusCode, &str) = (
        "invalid-request",
        StatusCode::UNPROCESSABLE_ENTITY,
        "The request does not have the expected shape",
    );
    pub const BODY_TOO_LARGE: (&str, StatusCode, &str) = (
        "body-too-large",
        StatusCode::PAYLOAD_TOO_LARGE,
        "The body is larger than the server accepts",
    );
    pub const UNSUPPORTED_MEDIA_TYPE: (&str, StatusCode, &str) = (
        "unsupported-media-type",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "The body must be JSON (Content-Type: application/json)",
    );
    pub const UNAUTHENTICATED: (&str, StatusCode, &str) = (
        "unauthenticated",
        StatusCode::UNAUTHORIZED,
        "A valid API token is required",
    );
    pub const FORBIDDEN: (&str, StatusCode, &str) = (
        "forbidden",
        StatusCode::FORBIDDEN,
        "The token's role does not allow this",
    );
    pub const NOT_FOUND: (&str, StatusCode, &str) =
        ("not-found", StatusCode::NOT_FOUND, "No such resource");
    pub const CONFLICT: (&str, StatusCode, &str) = (
        "conflict",
        StatusCode::CONFLICT,
        "The resource exists already or is in another state",
    );
    pub const UNAVAILABLE: (&str, StatusCode, &str) = (
        "unavailable",
        StatusCode::SERVICE_UNAVAILABLE,
        "The server cannot serve this now",
    );
    pub const STORAGE_FULL: (&str, StatusCode, &str) = (
        "storage-full",
        StatusCode::INSUFFICIENT_STORAGE,
        "The server's database has no space left: nothing was recorded",
    );
    pub const INTERNAL: (&str, StatusCode, &str) = (
        "internal",
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server failed",
    );
    pub const AUDIT_CHAIN_BROKEN: (&str, StatusCode, &str) = (
        "audit-chain-broken",
        StatusCode::CONFLICT,
        "The audit chain does not verify",
    );
    pub const REQUEST_TIMEOUT: (&str, StatusCode, &str) = (
        "request-timeout",
        StatusCode::REQUEST_TIMEOUT,
        "The request was not answered within the server's request timeout",
    );
    pub const METHOD_NOT_ALLOWED: (&str, StatusCode, &str) = (
        "method-not-allowed",
        StatusCode::METHOD_NOT_ALLOWED,
        "This method is not allowed here",
    );

    pub const MALFORMED_WEBHOOK: (&str, StatusCode, &str) = (
        "malformed-webhook",
        StatusCode::BAD_REQUEST,
        "The webhook payload is not what the controller sends",
    );
    pub const ROLLOUT_HALTED: (&str, StatusCode, &str) = (
        "rollout-halted",
        StatusCode::PRECONDITION_FAILED,
        "The firewall halts the rollout",
    );
    pub const ANALYSIS_UNAVAILABLE: (&str, StatusCode, &str) = (
        "analysis-unavailable",
        StatusCode::BAD_GATEWAY,
        "The canary analysis could not be run",
    );

    /// A registry failure (`image` in a decision request): the code is the failure's own.
    pub const REGISTRY: [(&str, StatusCode, &str); 9] = [
        (
            "registry-reference",
            StatusCode::UNPROCESSABLE_ENTITY,
            "The image reference is not valid",
        ),
        (
            "registry-config",
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server's registry settings cannot be used",
        ),
        (
            "registry-unreachable",
            StatusCode::BAD_GATEWAY,
            "The registry cannot be reached",
        ),
        (
            "registry-unauthorized",
            StatusCode::BAD_GATEWAY,
            "The registry refused the credentials",
        ),
        (
            "registry-not-found",
            StatusCode::BAD_GATEWAY,
            "The image is not in the registry",
        ),
        (
            "registry-too-large",
            StatusCode::BAD_GATEWAY,
            "A manifest, document or list in the registry is over its limit",
        ),
        (
            "registry-malformed",
            StatusCode::BAD_GATEWAY,
            "The registry answered something malformed",
        ),
        (
            "registry-timeout",
            StatusCode::GATEWAY_TIMEOUT,
            "The registry did not answer in time",
        ),
        (
            "registry-error",
            StatusCode::BAD_GATEWAY,
            "The registry failed",
        ),
    ];

    pub const ALL: [(&str, StatusCode, &str); 27] = [
        MALFORMED_WEBHOOK,
        ROLLOUT_HALTED,
        ANALYSIS_UNAVAILABLE,
        REGISTRY[0],
        REGISTRY[1],
        REGISTRY[2],
        REGISTRY[3],
        REGISTRY[4],
        REGISTRY[5],
        REGISTRY[6],
        REGISTRY[7],
        REGISTRY[8],
        MALFORMED_JSON,
        INVALID_REQUEST,
        BODY_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        UNAUTHENTICATED,
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        UNAVAILABLE,
        STORAGE_FULL,
        INTERNAL,
        AUDIT_CHAIN_BROKEN,
        REQUEST_TIMEOUT,
        METHOD_NOT_ALLOWED,
        (
            "not-acceptable",
            StatusCode::NOT_ACCEPTABLE,
            "The server cannot produce that",
        ),
    ];
}

impl Problem {
    pub fn new(code: (&str, StatusCode, &str), detail: impl Into<String>) -> Self {
        let (code, status, title) = code;
        Self {
            kind: format!("https://portcullis.dev/problems/{code}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
        }
    }

    /// A failure of the server's own (the store, a task): the cause goes to the log under an
    /// error id, the caller gets the id only. Causes name the database (its path or host),
    /// which is nobody's business outside the server.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let id = error_id();
        tracing::error!(error = %detail, error_id = %id, "internal error");
        Self::new(
            codes::INTERNAL,
            format!("the server failed (error {id}); its log has the cause"),
        )
    }

    /// A failure of the store: when the database cannot take a change now (its disk is full,
    /// it stays locked, it does not answer), `storage-full` (507) or `unavailable` (503), which a caller may retry
    /// and which never carries a decision; else [`Problem::internal`]. The cause names the
    /// database: it goes to the log only.
    pub fn store(e: &portcullis_store::StoreError) -> Self {
        use portcullis_store::Unavailable;
        let (code, words) = match e.unavailable() {
            Some(Unavailable::Full) => (
                codes::STORAGE_FULL,
                "the disk that holds the server's database is full",
            ),
            Some(Unavailable::Busy) => (
                codes::UNAVAILABLE,
                "the server's database did not take the change in time (locked, or no connection free)",
            ),
            Some(Unavailable::Unreachable) => {
                (codes::UNAVAILABLE, "the server's database does not answer")
            }
            None => return Self::internal(e),
        };
        let id = error_id();
        tracing::error!(error = %e, error_id = %id, "the store cannot take a change now");
        Self::new(
            code,
            format!(
                "{words}: nothing was recorded; try again later (error {id}; its log has the cause)"
            ),
        )
    }
}

/// A short id that ties a problem document to its log line.
fn error_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:08x}{:04x}", nanos, n & 0xffff)
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portcullis\""),
            );
        }
        resp
    }
}

impl From<RegistryError> for Problem {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Invalid(m) => Problem::new(codes::INVALID_REQUEST, m),
            RegistryError::Conflict(m) => Problem::new(codes::CONFLICT, m),
            RegistryError::NotFound(m) => Problem::new(codes::NOT_FOUND, m),
            RegistryError::Forbidden(m) => Problem::new(codes::FORBIDDEN, m),
            RegistryError::Store(e) => Problem::store(&e),
            RegistryError::Internal(m) => Problem::internal(m),
        }
    }
}

impl From<portcullis_store::StoreError> for Problem {
    fn from(e: portcullis_store::StoreError) -> Self {
        Problem::store(&e)
    }
}

impl From<portcullis_firewall::ServiceError> for Problem {
    fn from(e: portcullis_firewall::ServiceError) -> Self {
        use portcullis_firewall::ServiceError as E;
        use portcullis_firewall::record::RecordError;
        match e {
            E::Forbidden(m) => Problem::new(codes::FORBIDDEN, m),
            E::Invalid(m) => Problem::new(codes::INVALID_REQUEST, m),
            E::NotFound(m) => Problem::new(codes::NOT_FOUND, m),
            E::Conflict(m) => Problem::new(codes::CONFLICT, m),
            E::Registry(r) => {
                let code = codes::REGISTRY
                    .iter()
                    .find(|(c, _, _)| *c == r.kind.code())
                    .copied()
                    .unwrap_or(codes::REGISTRY[8]);
                Problem::new(code, r.to_string())
            }
            E::Store(s)
            | E::Record(RecordError::Store(s))
            | E::NotRecorded {
                source: RecordError::Store(s),
                ..
            } if s.unavailable().is_some() => Problem::store(&s),
            other => Problem::internal(other),
        }
    }
}
