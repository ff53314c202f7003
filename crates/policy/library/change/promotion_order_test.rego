package portcullis.rules.change.promotion_order

env(name) := {"name": name, "protected": true, "declared": true, "labels": {}}

entry(environment, decision, deployed) := {
	"environment": environment,
	"decision": decision,
	"decided_at": "2026-11-20T10:00:00Z",
	"deployed": deployed,
	"source": "firewall",
}

req(name, history) := {
	"artifact": {"name": "shop/api", "digest": "sha256:ab"},
	"environment": env(name),
	"history": history,
}

test_production_without_staging_fires if {
	vs := violation with input as req("production", [])
	count(vs) == 1
	some v in vs
	v.key == "promotion|staging"
	v.message == "shop/api@sha256:ab must pass staging before production, but there is no decision about this digest there"
}

test_allowed_in_staging_passes if {
	count(violation) == 0 with input as req("production", [entry("staging", "allow", false)])
}

test_denied_in_staging_fires if {
	vs := violation with input as req("production", [entry("staging", "deny", false), entry("dev", "allow", true)])
	some v in vs
	contains(v.message, "every decision there denied it (2026-11-20T10:00:00Z)")
}

test_environments_without_prerequisites_pass if {
	count(violation) == 0 with input as req("staging", [])
}

test_require_deployed if {
	params := {"PCL-CHG-004": {"require_deployed": true}}
	vs := violation with input as req("production", [entry("staging", "allow", false)]) with data.portcullis.params as params
	some v in vs
	contains(v.message, "never deployed")
	count(violation) == 0 with input as req("production", [entry("staging", "allow", true)]) with data.portcullis.params as params
}

test_order_is_a_parameter if {
	params := {"PCL-CHG-004": {"order": {"production": ["dev", "staging"]}}}
	vs := violation with input as req("production", [entry("staging", "allow", true)]) with data.portcullis.params as params
	count(vs) == 1
	some v in vs
	v.key == "promotion|dev"
}

test_a_malformed_order_fails_closed if {
	vs := violation with input as req("staging", []) with data.portcullis.params as {"PCL-CHG-004": {"order": {"production": "staging"}}}
	count(vs) == 1
	some v in vs
	v.key == "params.order"
}

test_an_asserted_history_does_not_count_where_protected if {
	vs := violation with input as req("production", [object.union(entry("staging", "allow", true), {"source": "asserted"})])
	count(vs) == 1
	some v in vs
	v.message == "shop/api@sha256:ab must pass staging before production, but the firewall has no decision about this digest there (the request asserts 1, which production does not accept)"
}

test_an_asserted_history_counts_where_the_environment_accepts_it if {
	r := req("production", [object.union(entry("staging", "allow", true), {"source": "asserted"})])
	count(violation) == 0 with input as object.union(r, {"environment": object.union(r.environment, {"accepts_asserted": true})})
}
