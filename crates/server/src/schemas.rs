//! OpenAPI schemas written by hand, for request bodies whose Rust types live in other crates
//! (the firewall's `Exception`, Kubernetes' `AdmissionReview`): described here rather than
//! deriving `ToSchema` there.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// The body of `POST /v1/exceptions`: one exception, or `{exceptions: [...]}`.
pub struct ExceptionGrant;

fn exception() -> ObjectBuilder {
    let text = |d: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(d))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "An exception (the firewall's `Exception`): lets the violation of `rule` on `key` \
             through for `artifact` in `environments` until `expires`.",
        ))
        .property("id", text("Its id (made from the rest when absent)."))
        .property("rule", text("The rule id, e.g. PCL-VULN-001."))
        .property("key", text("The violation's key (e.g. the CVE), or `*`."))
        .property("artifact", text("`NAME@sha256:HEX`, `NAME`, or `*`."))
        .property(
            "environments",
            ArrayBuilder::new().items(text("An environment, or `*`.")),
        )
        .property("expires", text("A date (YYYY-MM-DD) or an RFC 3339 time."))
        .property("reason", text("Why."))
        .property("approver", text("Who approved it."))
        .property(
            "evidence",
            text("The digest of the evidence it is bound to (optional)."),
        )
        .required("rule")
        .required("key")
        .required("artifact")
        .required("environments")
        .required("expires")
        .required("reason")
        .required("approver")
}

impl PartialSchema for ExceptionGrant {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(exception())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("exceptions", ArrayBuilder::new().items(exception()))
                    .required("exceptions"),
            )
            .into()
    }
}

impl ToSchema for ExceptionGrant {}

/// The body of `POST /v1/admission`: a Kubernetes `AdmissionReview` (admission.k8s.io/v1).
pub struct AdmissionReviewBody;

impl PartialSchema for AdmissionReviewBody {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A Kubernetes AdmissionReview (admission.k8s.io/v1), as the API server sends it: \
                 `{apiVersion, kind: AdmissionReview, request: {uid, kind, resource, name, \
                 namespace, operation, userInfo, object, dryRun}}`. The answer is an \
                 AdmissionReview with `response: {uid, allowed, status.message, warnings}`.",
            ))
            .property("apiVersion", ObjectBuilder::new().schema_type(Type::String))
            .property("kind", ObjectBuilder::new().schema_type(Type::String))
            .property("request", ObjectBuilder::new().schema_type(Type::Object))
            .required("request")
            .into()
    }
}

impl ToSchema for AdmissionReviewBody {}

/// A token's role (`portcullis_firewall::Role`): viewer reads; ci decides, uploads evidence
/// and records deployments; approver grants exceptions and break-glass overrides; admin does
/// everything.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RoleName {
    Viewer,
    Ci,
    Approver,
    Admin,
}
