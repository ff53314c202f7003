//! The whole server's router: the API (with its OpenAPI document, built from the same
//! handlers), the admission webhook, the dashboard, the not-found and method-not-allowed
//! fallbacks (problem documents), the body limit and the request timeout. The only module
//! that imports both the API and the dashboard.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HttpMethod, RefOr, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::{Problem, codes};
use crate::state::AppState;
use crate::{api, dashboard};

/// Where the dashboard's HTML pages are (not API: not in the OpenAPI document). `/` only
/// redirects there.
pub const DASHBOARD_PREFIX: &str = "/ui";

/// What the not-found fallback says (a test tells it from a handler's own 404).
pub const NO_SUCH_ENDPOINT: &str = "no such endpoint (see /openapi.json)";
/// What the method-not-allowed fallback says.
pub const NO_SUCH_METHOD: &str = "this endpoint does not take that method (see /openapi.json)";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis",
        version = "1",
        description = "The deployment firewall as a service: decisions (the same `Firewall::decide` as `portcullis gate`), evidence, advisories and block rules, exceptions, deployments and inventory, the audit trail, API tokens, and the Kubernetes admission webhook. Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code` (see the Problem schema). Every operation but /healthz, /readyz, /metrics and /openapi.json needs a bearer token; its description names the role."
    ),
    components(schemas(Problem)),
    modifiers(&Conventions)
)]
struct ApiDoc;

/// What every operation shares, added to each: the bearer scheme, and the problems any
/// operation may answer (401/403 where a token is needed; 400, 413, 415, 422 where there is a
/// body; 422 where there are parameters; 408 and 500 everywhere; 503 where a request permit
/// is needed, i.e. everywhere but the probes and /metrics).
struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Add the problems every operation shares (see [`Conventions`]); run on the whole document,
/// after the operations are in.
fn add_common_problems(doc: &mut utoipa::openapi::OpenApi) {
    let problem = |code: (&str, StatusCode, &str), when: &str| {
        let (name, status, _) = code;
        (
            status.as_u16().to_string(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(format!("{when} (problem code: {name})"))
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "Problem",
                            ))))
                            .build(),
                    )
                    .build(),
            ),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let unlimited = crate::state::UNLIMITED_PATHS.contains(&path.as_str());
        for (method, op) in [
            (HttpMethod::Get, item.get.as_mut()),
            (HttpMethod::Post, item.post.as_mut()),
            (HttpMethod::Delete, item.delete.as_mut()),
            (HttpMethod::Put, item.put.as_mut()),
            (HttpMethod::Patch, item.patch.as_mut()),
        ] {
            let Some(op) = op else { continue };
            let mut common = vec![
                problem(codes::INTERNAL, "the server failed"),
                problem(
                    codes::REQUEST_TIMEOUT,
                    "not answered within the server's request timeout (request_timeout_seconds)",
                ),
            ];
            if !unlimited {
                common.push(problem(
                    codes::UNAVAILABLE,
                    "too many requests in flight at once (limits.concurrent_requests; \
                     the Retry-After header says when to come back), or the server's \
                     database does not answer or stays locked: nothing was done",
                ));
            }
            if method != HttpMethod::Get {
                common.push(problem(
                    codes::STORAGE_FULL,
                    "the disk that holds the server's database is full: nothing was recorded",
                ));
            }
            if op.security.is_some() {
                common.push(problem(
                    codes::UNAUTHENTICATED,
                    "no token, or an unknown or revoked one",
                ));
                common.push(problem(
                    codes::FORBIDDEN,
                    "the token's role does not allow this",
                ));
            }
            if method != HttpMethod::Get && op.request_body.is_some() {
                common.push(problem(codes::MALFORMED_JSON, "the body is not JSON"));
                common.push(problem(
                    codes::BODY_TOO_LARGE,
                    "the body is larger than the server accepts",
                ));
                common.push(problem(
                    codes::UNSUPPORTED_MEDIA_TYPE,
                    "the body is not sent as application/json",
                ));
                common.push(problem(
                    codes::INVALID_REQUEST,
                    "the body does not have the expected shape",
                ));
            }
            if !op.parameters.as_ref().is_none_or(Vec::is_empty) {
                common.push(problem(
                    codes::INVALID_REQUEST,
                    "a parameter is missing, unknown or malformed",
                ));
            }
            for (status, response) in common {
                op.responses.responses.entry(status).or_insert(response);
            }
        }
    }
}

/// The API's routes with their documentation (and `/openapi.json` itself).
fn api() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .merge(api::router())
        .merge(crate::integrations::router())
}

/// The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
/// annotations and the request and response types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api().into_openapi();
    add_common_problems(&mut doc);
    doc
}

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string_pretty(&openapi()).unwrap_or_default());

/// The server: every route, its fallbacks and layers, with `state`. The API's routes come only
/// from [`api`], so each one is in the OpenAPI document.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state
        .settings
        .body_limit
        .unwrap_or(crate::settings::DEFAULT_BODY_LIMIT);
    let timeout = state.settings.request_timeout_seconds.unwrap_or(60);
    let (api, _) = api().split_for_parts();
    api.merge(dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::state::limit_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            std::time::Duration::from_secs(timeout.max(1)),
            request_timeout,
        ))
        .with_state(state)
}

/// A request not answered within `limit` gets 408 with a problem document (as every other
/// refusal), not an empty body.
async fn request_timeout(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            codes::REQUEST_TIMEOUT,
            format!(
                "not answered within {} s (request_timeout_seconds)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

async fn not_found() -> Problem {
    Problem::new(codes::NOT_FOUND, NO_SUCH_ENDPOINT)
}

async fn method_not_allowed() -> Problem {
    Problem::new(codes::METHOD_NOT_ALLOWED, NO_SUCH_METHOD)
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    description = "This document (OpenAPI 3.1). No token needed.",
    responses((status = 200, description = "The OpenAPI document", body = serde_json::Value)),
)]
async fn openapi_json() -> Response {
    let mut r = DOCUMENT.as_str().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
