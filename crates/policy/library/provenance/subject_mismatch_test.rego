package portcullis.rules.provenance.subject_mismatch

digest := "sha256:abababababababababababababababababababababababababababababababab"

other := "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

provenance(subjects) := {
	"evidence": "sha256:01",
	"predicate_type": "https://slsa.dev/provenance/v0.2",
	"verified": false,
	"signers": [],
	"subjects": subjects,
	"builder_id": "https://github.com/actions/runner/github-hosted",
	"build_type": null,
	"source_repo": null,
	"source_ref": null,
	"source_commit": null,
}

test_provenance_of_another_digest_fires if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance([{"name": "checkout-api", "digest": other}])]}
	count(vs) == 1
	some v in vs
	v.key == digest
	contains(v.message, sprintf("they name checkout-api@%s", [other]))
	v.evidence_refs == [{"attestation": "sha256:01"}]
}

test_provenance_listing_the_digest_passes if {
	subjects := [{"name": "a", "digest": other}, {"name": "checkout-api", "digest": digest}]
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [provenance(subjects)]}
}

test_no_provenance_is_not_this_rules_business if {
	count(violation) == 0 with input as {"artifact": artifact, "attestations": []}
}

test_subjects_without_digest_are_named if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance([{"name": "checkout-api", "digest": null}])]}
	some v in vs
	contains(v.message, "checkout-api (no sha256 digest)")
}

test_long_subject_lists_are_cut if {
	many := [{"name": sprintf("bin-%d", [i]), "digest": other} | some i in numbers.range(1, 8)]
	vs := violation with input as {"artifact": artifact, "attestations": [provenance(many)]}
	some v in vs
	endswith(v.message, "and 3 more")
}
