package portcullis.rules.change.required_approval

artifact := {"name": "shop/api", "digest": "sha256:ab"}

env(name, declared) := {"name": name, "protected": true, "declared": declared, "labels": {}}

approval(approver, source) := {"id": "apr_1", "approver": approver, "source": source}

ctx(approvals) := {"requester": "token:tok_ci", "approvals": approvals, "time": "2026-11-23T12:00:00Z", "time_unix": 1795435200}

req(name, declared, approvals) := {"artifact": artifact, "environment": env(name, declared), "context": ctx(approvals)}

test_production_without_approval_fires if {
	vs := violation with input as req("production", true, [])
	count(vs) == 1
	some v in vs
	v.key == "approval|production"
	v.message == "deploying shop/api@sha256:ab to production needs an approval, and there is none: it requires an approved change"
}

test_blank_approver_is_no_approval if {
	count(violation) == 1 with input as req("production", true, [approval("  ", "recorded")])
}

test_a_recorded_approval_passes if {
	count(violation) == 0 with input as req("production", true, [approval("token:tok_dana", "recorded")])
}

test_a_signed_approval_passes if {
	count(violation) == 0 with input as req("production", true, [approval("key:release", "signed")])
}

test_an_asserted_approver_does_not_count_where_protected if {
	vs := violation with input as req("production", true, [approval("dana@example.com", "asserted")])
	count(vs) == 1
	some v in vs
	contains(v.message, "dana@example.com is only asserted by the request, and production does not accept asserted facts")
}

test_an_asserted_approver_counts_where_the_environment_accepts_it if {
	r := req("production", true, [approval("dana@example.com", "asserted")])
	count(violation) == 0 with input as object.union(r, {"environment": object.union(r.environment, {"accepts_asserted": true})})
}

test_the_requester_cannot_approve_itself if {
	vs := violation with input as req("production", true, [approval("TOKEN:tok_ci ", "recorded")])
	count(vs) == 1
	some v in vs
	contains(v.message, "approved their own request")
}

test_other_declared_environments_need_none if {
	count(violation) == 0 with input as req("staging", true, [])
}

test_environments_is_a_parameter if {
	count(violation) == 1 with input as req("staging", true, [])
		with data.portcullis.params as {"PCL-CHG-002": {"environments": ["prod*", "stag*"]}}
}

test_undeclared_environment_needs_an_approval if {
	vs := violation with input as req("producton", false, [])
	some v in vs
	contains(v.message, "not declared in portcullis.yaml")
}

test_undeclared_check_can_be_turned_off if {
	count(violation) == 0 with input as req("producton", false, [])
		with data.portcullis.params as {"PCL-CHG-002": {"require_in_undeclared": false}}
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as req("staging", true, [approval("token:tok_dana", "recorded")])
		with data.portcullis.params as {"PCL-CHG-002": {"environments": "production"}}
	count(vs) == 1
	some v in vs
	v.key == "params.environments"
}
