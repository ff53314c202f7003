# An attestation whose signature names a trusted key but does not verify, whose payload was
# altered, or whose certificate was not valid is not merely "unverified": it is evidence that
# something in the supply chain was tampered with or misconfigured, and people should look.
# (An attestation signed by a key that is simply not trusted is left to the other rules: it
# may be a third party's, and it counts for nothing.)
package portcullis.rules.provenance.failed_verification

import data.portcullis.lib

metadata := {
	"id": "PCL-PROV-007",
	"title": "Attestation failed verification",
	"description": "An attestation given as evidence failed verification for a reason in the `failures` parameter (default: a bad signature from a trusted key, a malformed envelope, a wrong payload type, an expired or untrusted certificate, a wrong identity or issuer, an invalid transparency-log entry). The reason is in the message; the attestation gives no facts.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SI-7", "SI-7(6)", "SR-4(3)", "SR-11", "AU-10"],
		"hipaa": ["164.312(c)(1)", "164.312(c)(2)"],
		"slsa": ["build-l2"],
	},
	"remediation": "Find out why the attestation does not verify (altered payload, a key that is not the one configured, an expired or foreign certificate), regenerate it with the right signer, and pass it again.",
	"params": {"failures": [
		"bad_signature",
		"malformed_envelope",
		"wrong_payload_type",
		"expired_certificate",
		"untrusted_certificate",
		"identity_mismatch",
		"issuer_mismatch",
		"invalid_log_entry",
	]},
}

params := lib.params(metadata)

violation contains v if {
	is_array(params.failures)
	some a in input.attestations
	a.verified != true
	f := object.get(a, "failure", null)
	f in params.failures
	v := {
		"key": sprintf("%s/%s", [a.evidence, f]),
		"message": sprintf("an attestation (%s) in evidence %s failed verification: %s", [label(a), a.evidence, a.reason]),
		"evidence_refs": [{"attestation": a.evidence}],
	}
}

violation contains v if {
	not is_array(params.failures)
	v := lib.param_violation(metadata, sprintf("parameter failures of PCL-PROV-007 must be a list of failure codes, not %v", [params.failures]))
}

label(a) := a.predicate_type if a.predicate_type != ""

label(a) := "not a readable Statement" if a.predicate_type == ""
