# Which attestations an artifact must carry depends on where it goes: production may require
# SLSA provenance and a signed SBOM or vulnerability-scan attestation, while a dev cluster
# requires nothing. Each required predicate type must be met by an attestation that verified
# (trusted signers meeting the threshold, a subject that is the artifact): an unsigned or
# unbound claim of the right type does not count.
package portcullis.rules.provenance.required_attestations

import data.portcullis.lib

metadata := {
	"id": "PCL-PROV-006",
	"title": "Required attestation missing",
	"description": "The environment requires verified attestations of given predicate types (parameter `required`: environment name, class `protected`/`unprotected`, or `*` -> list of predicate type globs); for some of them no attestation of the artifact verified. The most specific key wins. By default nothing beyond SLSA provenance (PCL-PROV-001) is required.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SR-4", "SR-4(3)", "SI-7", "SA-15", "CM-14"],
		"hipaa": ["164.312(c)(1)"],
		"slsa": ["build-l1"],
	},
	"remediation": "Produce the required attestations in the pipeline (signed, for this artifact's digest) and pass them as evidence, or change the rule's `required` parameter for this environment.",
	"params": {"required": {}},
}

params := lib.params(metadata)

class := "protected" if input.environment.protected == true

class := "unprotected" if input.environment.protected != true

# The list for this environment: its own name, else its class, else "*", else none.
required := params.required[input.environment.name] if {
	is_object(params.required)
} else := params.required[class] if {
	is_object(params.required)
} else := params.required["*"] if {
	is_object(params.required)
} else := []

well_formed if {
	is_object(params.required)
	every _, list in params.required {
		is_array(list)
		every t in list {
			is_string(t)
		}
	}
}

verified_types := {a.predicate_type | some a in input.attestations; a.verified == true}

met(t) if {
	some p in verified_types
	glob.match(lower(t), ["/"], lower(p))
}

violation contains v if {
	well_formed
	some t in required
	not met(t)
	claims := [a | some a in input.attestations; glob.match(lower(t), ["/"], lower(a.predicate_type))]
	v := {
		"key": t,
		"message": message(t, claims),
		"evidence_refs": [{"attestation": d} | some d in {a.evidence | some a in claims}],
	}
}

violation contains v if {
	not well_formed
	v := lib.param_violation(metadata, sprintf("parameter required of PCL-PROV-006 must map environments to lists of predicate types, not %v: nothing can be checked (fail-closed)", [params.required]))
}

reasons(claims) := concat("; ", sort({r | some a in claims; r := object.get(a, "reason", null); is_string(r)}))

message(t, claims) := sprintf("%s@%s goes to %s, which requires a verified %s attestation, and none was given", [
	input.artifact.name, input.artifact.digest, input.environment.name, t,
]) if {
	count(claims) == 0
} else := sprintf("%s@%s goes to %s, which requires a verified %s attestation; %d were given but none verified (%s)", [
	input.artifact.name, input.artifact.digest, input.environment.name, t, count(claims), reasons(claims),
])
