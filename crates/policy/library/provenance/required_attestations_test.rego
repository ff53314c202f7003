package portcullis.rules.provenance.required_attestations

digest := "sha256:abababababababababababababababababababababababababababababababab"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

production := {"name": "production", "protected": true, "declared": true, "labels": {}}

staging := {"name": "staging", "protected": true, "declared": true, "labels": {}}

dev := {"name": "dev", "protected": false, "declared": true, "labels": {}}

slsa := {
	"evidence": "sha256:01",
	"predicate_type": "https://slsa.dev/provenance/v1",
	"verified": true,
	"subjects": [{"name": "x", "digest": digest}],
}

sbom := {
	"evidence": "sha256:02",
	"predicate_type": "https://cyclonedx.org/bom",
	"verified": true,
	"subjects": [{"name": "x", "digest": digest}],
}

configured := {"PCL-PROV-006": {"required": {
	"production": ["https://slsa.dev/provenance/*", "https://cyclonedx.org/bom"],
	"protected": ["https://slsa.dev/provenance/*"],
}}}

test_nothing_is_required_by_default if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "attestations": []}
}

test_all_required_types_verified_pass if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "attestations": [slsa, sbom]}
		with data.portcullis.params as configured
}

test_a_missing_type_fires_with_its_name if {
	vs := violation with input as {"artifact": artifact, "environment": production, "attestations": [slsa]}
		with data.portcullis.params as configured
	count(vs) == 1
	some v in vs
	v.key == "https://cyclonedx.org/bom"
	contains(v.message, "goes to production, which requires a verified https://cyclonedx.org/bom attestation, and none was given")
}

test_an_unverified_claim_does_not_count_and_its_reason_is_given if {
	claim := object.union(sbom, {"verified": false, "failure": "untrusted_key", "reason": "untrusted key: no trusted key verifies the signature"})
	vs := violation with input as {"artifact": artifact, "environment": production, "attestations": [slsa, claim]}
		with data.portcullis.params as configured
	some v in vs
	contains(v.message, "1 were given but none verified (untrusted key: no trusted key verifies the signature)")
	v.evidence_refs == [{"attestation": "sha256:02"}]
}

test_the_class_applies_when_the_name_is_not_listed if {
	vs := violation with input as {"artifact": artifact, "environment": staging, "attestations": [sbom]}
		with data.portcullis.params as configured
	some v in vs
	v.key == "https://slsa.dev/provenance/*"
}

test_unlisted_environments_require_nothing if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": dev, "attestations": []}
		with data.portcullis.params as configured
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as {"artifact": artifact, "environment": production, "attestations": []}
		with data.portcullis.params as {"PCL-PROV-006": {"required": {"production": "https://slsa.dev/provenance/v1"}}}
	some v in vs
	v.key == "PCL-PROV-006/params"
}
