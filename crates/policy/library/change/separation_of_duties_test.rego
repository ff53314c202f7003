package portcullis.rules.change.separation_of_duties

req(requester, approver) := {
	"artifact": {"name": "shop/api", "digest": "sha256:ab"},
	"environment": {"name": "production", "protected": true, "declared": true, "labels": {}},
	"context": {"requester": requester, "requester_source": "authenticated", "approvals": [{"id": "apr_1", "approver": approver, "source": "recorded"} | approver != null]},
}

test_self_approval_fires if {
	vs := violation with input as req("ana@example.com", "ana@example.com")
	count(vs) == 1
	some v in vs
	v.key == "self-approval|ana@example.com"
	startswith(v.message, "ana@example.com approved their own deployment of shop/api@sha256:ab to production")
}

test_case_and_spaces_do_not_hide_it if {
	count(violation) == 1 with input as req("Ana@Example.com ", " ana@example.com")
}

test_different_people_pass if {
	count(violation) == 0 with input as req("ana@example.com", "dana@example.com")
}

test_unknown_requester_passes_by_default if {
	count(violation) == 0 with input as req(null, "dana@example.com")
	count(violation) == 0 with input as req("", "")
}

test_unknown_requester_can_be_required if {
	vs := violation with input as req(null, "dana@example.com")
		with data.portcullis.params as {"PCL-CHG-003": {"require_known_requester": true}}
	some v in vs
	v.key == "requester-unknown"
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as req("ana", "dana")
		with data.portcullis.params as {"PCL-CHG-003": {"require_known_requester": "yes"}}
	some v in vs
	v.key == "params.require_known_requester"
}
