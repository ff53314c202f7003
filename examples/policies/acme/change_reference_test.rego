package portcullis.rules.acme.change_reference

base := {
	"artifact": {"name": "shop/api", "digest": "sha256:00"},
	"environment": {"name": "production", "protected": true},
	"context": {"change_ref": "CHG-2026-1142"},
}

test_a_ticket_passes if {
	count(violation) == 0 with input as base
}

test_no_ticket_in_production_fires if {
	count(violation) == 1 with input as object.union(base, {"context": {"change_ref": null}})
}

test_a_malformed_ticket_fires if {
	some v in violation with input as object.union(base, {"context": {"change_ref": "see slack"}})
	contains(v.message, "see slack")
}

test_unprotected_environments_are_not_checked if {
	count(violation) == 0 with input as object.union(base, {"environment": {"name": "dev", "protected": false}, "context": {"change_ref": null}})
}
