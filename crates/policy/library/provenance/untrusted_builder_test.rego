package portcullis.rules.provenance.untrusted_builder

digest := "sha256:abababababababababababababababababababababababababababababababab"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

hosted := "https://github.com/actions/runner/github-hosted"

provenance := {
	"evidence": "sha256:01",
	"predicate_type": "https://slsa.dev/provenance/v1",
	"verified": true,
	"signers": ["ci"],
	"subjects": [{"name": "registry.example.com/shop/checkout-api", "digest": digest}],
	"builder_id": hosted,
	"build_type": "https://actions.github.io/buildtypes/workflow/v1",
	"source_repo": "https://github.com/example-shop/checkout-api",
	"source_ref": "refs/heads/main",
	"source_commit": null,
}

trust(list) := {"PCL-PROV-002": {"trusted_builders": list}}

test_trusted_builder_passes if {
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as trust(["https://github.com/actions/runner/*"])
}

test_untrusted_builder_fires if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as trust(["https://github.com/slsa-framework/**"])
	count(vs) == 1
	some v in vs
	v.key == hosted
	contains(v.message, "matches none of the trusted builders (https://github.com/slsa-framework/**)")
	v.evidence_refs == [{"attestation": "sha256:01"}]
}

test_star_does_not_cross_a_slash if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as trust(["https://github.com/*"])
	count(vs) == 1
}

test_empty_trust_list_trusts_no_builder if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance]}
	count(vs) == 1
	some v in vs
	contains(v.message, "no builder is trusted: parameter trusted_builders of PCL-PROV-002 is empty")
	startswith(v.remediation, "List the builder ids you trust")
	contains(v.remediation, `for example "https://github.com/actions/runner/github-hosted", if`)
}

test_missing_builder_id_fires_even_when_everything_is_trusted if {
	anonymous := object.union(provenance, {"builder_id": null})
	vs := violation with input as {"artifact": artifact, "attestations": [anonymous]}
		with data.portcullis.params as trust(["**"])
	some v in vs
	v.key == "(no builder id)"
}

test_provenance_of_other_artifacts_is_not_judged_here if {
	other := object.union(provenance, {"subjects": [{"name": "x", "digest": "sha256:cd"}]})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [other]}
}

test_one_violation_per_builder if {
	again := object.union(provenance, {"evidence": "sha256:02"})
	vs := violation with input as {"artifact": artifact, "attestations": [provenance, again]}
	count(vs) == 1
	some v in vs
	v.evidence_refs == [{"attestation": "sha256:01"}, {"attestation": "sha256:02"}]
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as {"artifact": artifact, "attestations": []}
		with data.portcullis.params as trust(hosted)
	some v in vs
	v.key == "params.trusted_builders"
}

test_unverified_provenance_is_not_judged_its_facts_are_claims if {
	# The firewall sets no facts on an attestation that does not verify; even if a document
	# carried some, they are a claim and PCL-PROV-001 reports the artifact instead.
	claim := object.union(provenance, {"verified": false, "signers": [], "failure": "untrusted_key"})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [claim]}
}
