# An artifact must come with SLSA provenance that names its digest and whose signature the
# firewall verified with a trusted key (or a Sigstore certificate of a trusted identity).
# Unverified provenance is only a claim (anyone can write one), so it does not count: the rule
# fails closed and says why each claim did not verify (the attestation's `reason`).
package portcullis.rules.provenance.unattested

import data.portcullis.lib.slsa

metadata := {
	"id": "PCL-PROV-001",
	"title": "Artifact without verified SLSA provenance",
	"description": "No SLSA provenance attestation with a verified signature names the artifact's digest. Enforced in protected environments; a warning in the others, so that a pipeline that does not produce signed provenance learns it before the artifact is promoted.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SR-4", "SR-4(3)", "SR-11", "SI-7", "SI-7(15)", "CM-14"],
		"hipaa": ["164.312(c)(1)"],
		"slsa": ["build-l1", "build-l2"],
	},
	"remediation": "Build the artifact on a build platform that emits signed SLSA provenance (for example the SLSA GitHub generator or GitHub artifact attestations), pass the signed attestation as evidence, and trust its signer.",
	"params": {},
}

verified contains a if {
	some a in slsa.for_artifact
	a.verified == true
}

unverified contains a if {
	some a in slsa.for_artifact
	a.verified != true
}

violation contains v if {
	count(verified) == 0
	v := {
		"key": input.artifact.digest,
		"message": message,
		"evidence_refs": [{"attestation": d} | some d in {a.evidence | some a in considered}],
		"remediation": remediation,
	}
}

# The attestations the message is about.
considered := unverified if {
	count(unverified) > 0
} else := slsa.provenance if {
	count(slsa.provenance) > 0
} else := input.attestations

message := sprintf("%s has SLSA provenance naming its digest, but none of it is verified: %s; unverified provenance is only a claim, so the artifact counts as unattested (fail-closed)", [
	slsa.artifact_label,
	concat("; ", sort([unverified_detail(a) | some a in unverified])),
]) if {
	count(unverified) > 0
} else := sprintf("%s has no SLSA provenance naming its digest: the %d provenance attestation(s) present are about other artifacts (see PCL-PROV-004)", [
	slsa.artifact_label,
	count(slsa.provenance),
]) if {
	count(slsa.provenance) > 0
} else := sprintf("%s has no SLSA provenance: the attestations present are of other kinds (%s)", [
	slsa.artifact_label,
	concat(", ", sort({a.predicate_type | some a in input.attestations})),
]) if {
	count(input.attestations) > 0
} else := sprintf("%s has no SLSA provenance attestation", [slsa.artifact_label])

unverified_detail(a) := sprintf("provenance in evidence %s: %s", [a.evidence, a.reason]) if {
	is_string(a.reason)
} else := sprintf("provenance in evidence %s names no signing key", [a.evidence]) if {
	count(object.get(a, "keyids", [])) == 0
} else := sprintf("provenance in evidence %s is signed by %s, but no signature was verified against a trusted key", [
	a.evidence, concat(", ", a.keyids),
])

remediation := "Pass the signed form of this provenance (DSSE envelope or Sigstore bundle) and configure its signer as a trusted key, so that the firewall can verify the signature." if {
	count(unverified) > 0
} else := "Pass the provenance generated for this exact digest: a rebuilt or re-tagged artifact has a new digest and needs its own provenance." if {
	count(slsa.provenance) > 0
} else := metadata.remediation
