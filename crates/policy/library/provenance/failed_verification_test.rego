package portcullis.rules.provenance.failed_verification

digest := "sha256:abababababababababababababababababababababababababababababababab"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

att := {
	"evidence": "sha256:01",
	"predicate_type": "https://slsa.dev/provenance/v1",
	"verified": false,
	"failure": "bad_signature",
	"reason": "bad signature: signature 0 names trusted key `ci` but no trusted key verifies it",
}

test_a_bad_signature_fires_with_its_reason if {
	vs := violation with input as {"artifact": artifact, "attestations": [att]}
	count(vs) == 1
	some v in vs
	v.key == "sha256:01/bad_signature"
	v.message == "an attestation (https://slsa.dev/provenance/v1) in evidence sha256:01 failed verification: bad signature: signature 0 names trusted key `ci` but no trusted key verifies it"
}

test_an_untrusted_key_is_left_to_the_other_rules if {
	other := object.union(att, {"failure": "untrusted_key", "reason": "untrusted key: x"})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [other]}
}

test_unsigned_statements_are_left_to_the_other_rules if {
	other := object.union(att, {"failure": "unsigned", "reason": "unsigned: x"})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [other]}
}

test_verified_attestations_never_fire if {
	ok := object.union(att, {"verified": true, "failure": null, "reason": null})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [ok]}
}

test_the_list_is_a_parameter if {
	vs := violation with input as {"artifact": artifact, "attestations": [object.union(att, {"failure": "untrusted_key"})]}
		with data.portcullis.params as {"PCL-PROV-007": {"failures": ["untrusted_key"]}}
	count(vs) == 1
}

test_an_unreadable_payload_is_named if {
	broken := object.union(att, {"predicate_type": "", "failure": "malformed_envelope", "reason": "malformed envelope: /payload: not JSON"})
	vs := violation with input as {"artifact": artifact, "attestations": [broken]}
	some v in vs
	contains(v.message, "(not a readable Statement)")
}
