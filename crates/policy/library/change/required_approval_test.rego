package portcullis.rules.change.required_approval

artifact := {"name": "shop/api", "digest": "sha256:ab"}

env(name, declared) := {"name": name, "protected": true, "declared": declared, "labels": {}}

ctx(approver) := {"requester": "ana", "approver": approver, "time": "2026-11-23T12:00:00Z", "time_unix": 1795435200}

req(name, declared, approver) := {"artifact": artifact, "environment": env(name, declared), "context": ctx(approver)}

test_production_without_approver_fires if {
	vs := violation with input as req("production", true, null)
	count(vs) == 1
	some v in vs
	v.key == "approval|production"
	v.message == "deploying shop/api@sha256:ab to production needs an approver, and the request names none: it requires an approved change"
}

test_blank_approver_is_no_approver if {
	count(violation) == 1 with input as req("production", true, "  ")
}

test_production_with_approver_passes if {
	count(violation) == 0 with input as req("production", true, "dana@example.com")
}

test_other_declared_environments_need_none if {
	count(violation) == 0 with input as req("staging", true, null)
}

test_environments_is_a_parameter if {
	count(violation) == 1 with input as req("staging", true, null)
		with data.portcullis.params as {"PCL-CHG-002": {"environments": ["prod*", "stag*"]}}
}

test_undeclared_environment_needs_an_approver if {
	vs := violation with input as req("producton", false, null)
	some v in vs
	contains(v.message, "not declared in portcullis.yaml")
}

test_undeclared_check_can_be_turned_off if {
	count(violation) == 0 with input as req("producton", false, null)
		with data.portcullis.params as {"PCL-CHG-002": {"require_in_undeclared": false}}
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as req("staging", true, "dana")
		with data.portcullis.params as {"PCL-CHG-002": {"environments": "production"}}
	count(vs) == 1
	some v in vs
	v.key == "params.environments"
}
