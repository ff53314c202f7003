package portcullis.rules.provenance.unattested

digest := "sha256:abababababababababababababababababababababababababababababababab"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

provenance := {
	"evidence": "sha256:01",
	"predicate_type": "https://slsa.dev/provenance/v1",
	"verified": true,
	"signers": ["builder-key"],
	"subjects": [{"name": "registry.example.com/shop/checkout-api", "digest": digest}],
	"builder_id": "https://github.com/actions/runner/github-hosted",
	"build_type": "https://actions.github.io/buildtypes/workflow/v1",
	"source_repo": "https://github.com/example-shop/checkout-api",
	"source_ref": "refs/heads/main",
	"source_commit": null,
}

test_verified_provenance_for_the_digest_passes if {
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [provenance]}
}

test_digest_is_compared_case_insensitively if {
	upper := object.union(provenance, {"subjects": [{"name": "x", "digest": upper(digest)}]})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [upper]}
}

test_no_attestation_fires if {
	vs := violation with input as {"artifact": artifact, "attestations": []}
	count(vs) == 1
	some v in vs
	v.key == digest
	endswith(v.message, "has no SLSA provenance attestation")
	v.evidence_refs == []
}

test_unverified_provenance_fails_closed_and_says_so if {
	unsigned := object.union(provenance, {"verified": false, "signers": [], "keyids": []})
	vs := violation with input as {"artifact": artifact, "attestations": [unsigned]}
	count(vs) == 1
	some v in vs
	contains(v.message, "none of it is verified")
	contains(v.message, "names no signing key")
	contains(v.message, "fail-closed")
	v.evidence_refs == [{"attestation": "sha256:01"}]
	startswith(v.remediation, "Pass the signed form")
}

test_signed_but_unverified_names_the_keys if {
	signed := object.union(provenance, {"verified": false, "signers": [], "keyids": ["k1", "k2"]})
	vs := violation with input as {"artifact": artifact, "attestations": [signed]}
	some v in vs
	contains(v.message, "signed by k1, k2, but no signature was verified")
}

test_verified_provenance_of_another_digest_does_not_count if {
	other := object.union(provenance, {"subjects": [{"name": "x", "digest": "sha256:cd"}]})
	vs := violation with input as {"artifact": artifact, "attestations": [other]}
	some v in vs
	contains(v.message, "about other artifacts (see PCL-PROV-004)")
}

test_other_predicates_are_not_provenance if {
	vsa := object.union(provenance, {"predicate_type": "https://slsa.dev/verification_summary/v1"})
	vs := violation with input as {"artifact": artifact, "attestations": [vsa]}
	some v in vs
	contains(v.message, "other kinds (https://slsa.dev/verification_summary/v1)")
}

test_one_verified_among_unverified_passes if {
	unsigned := object.union(provenance, {"verified": false, "evidence": "sha256:02"})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [unsigned, provenance]}
}

test_the_reason_of_a_failed_verification_is_given if {
	bad := object.union(provenance, {
		"verified": false,
		"failure": "bad_signature",
		"reason": "bad signature: signature 0 names trusted key `ci` but no trusted key verifies it",
	})
	vs := violation with input as {"artifact": artifact, "attestations": [bad]}
	some v in vs
	contains(v.message, "provenance in evidence sha256:01: bad signature: signature 0 names trusted key `ci`")
}
