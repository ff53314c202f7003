package portcullis.rules.provenance.untrusted_ref

digest := "sha256:abababababababababababababababababababababababababababababababab"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

provenance := {
	"evidence": "sha256:01",
	"predicate_type": "https://slsa.dev/provenance/v1",
	"verified": true,
	"signers": ["ci"],
	"subjects": [{"name": "registry.example.com/shop/checkout-api", "digest": digest}],
	"builder_id": "https://github.com/actions/runner/github-hosted",
	"source_repo": "https://github.com/example-shop/checkout-api",
	"source_ref": "refs/heads/feature/try-this",
	"source_commit": "4f2d6c1b9e8a7d3c5b1f0e2a4c6d8b9e1f3a5c7d",
}

refs(list) := {"PCL-PROV-005": {"trusted_refs": list}}

release := ["refs/heads/main", "refs/tags/v*"]

test_the_default_trusts_every_ref if {
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [provenance]}
}

test_a_feature_branch_is_not_a_release_ref if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as refs(release)
	count(vs) == 1
	some v in vs
	v.key == "refs/heads/feature/try-this"
	contains(v.message, "was built from refs/heads/feature/try-this, which matches none of the trusted refs (refs/heads/main, refs/tags/v*)")
	v.evidence_refs == [{"attestation": "sha256:01"}]
}

test_main_and_release_tags_pass if {
	main := object.union(provenance, {"source_ref": "refs/heads/main"})
	tag := object.union(provenance, {"source_ref": "refs/tags/v1.4.2", "evidence": "sha256:02"})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [main, tag]}
		with data.portcullis.params as refs(release)
}

test_no_ref_fires_when_refs_are_restricted if {
	none := object.union(provenance, {"source_ref": null})
	vs := violation with input as {"artifact": artifact, "attestations": [none]}
		with data.portcullis.params as refs(release)
	some v in vs
	v.key == "(no source ref)"
}

test_unverified_provenance_is_not_judged if {
	claim := object.union(provenance, {"verified": false})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [claim]}
		with data.portcullis.params as refs(release)
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as refs("refs/heads/main")
	some v in vs
	v.key == "PCL-PROV-005/params"
}
