# The SLSA level of an artifact is the level of the builder that made it, so verifiers keep a
# list of builders they trust (SLSA "Verifying artifacts": the builder id must be one of the
# trusted ones). An empty list trusts no builder: it is a configuration still to be written,
# not "anything goes", so every provenance is reported until the builders are listed. To
# stop checking, set the rule's action to `off`; to trust any builder on purpose, list "**".
package portcullis.rules.provenance.untrusted_builder

import data.portcullis.lib
import data.portcullis.lib.slsa

metadata := {
	"id": "PCL-PROV-002",
	"title": "Provenance from an untrusted builder",
	"description": "SLSA provenance of the artifact names a builder (builder.id) that matches none of the trusted builder globs (`*` does not cross `/`, `**` does). An empty trust list trusts no builder.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SR-3", "SR-4", "SR-11", "SI-7"],
		"hipaa": [],
		"slsa": ["build-l2", "build-l3"],
	},
	"remediation": "Build the artifact on a builder you trust, or list the builder's id in the rule's `trusted_builders` parameter in portcullis.yaml.",
	"params": {"trusted_builders": []},
}

params := lib.params(metadata)

patterns := params.trusted_builders

is_string_list(x) if {
	is_array(x)
	every e in x {
		is_string(e)
	}
}

untrusted contains b if {
	some a in slsa.verified_for_artifact
	b := slsa.builder(a)
	not trusted(b)
}

trusted(b) if {
	b != ""
	lib.glob_any(patterns, b)
}

violation contains v if {
	is_string_list(patterns)
	some b in untrusted
	docs := {a.evidence | some a in slsa.verified_for_artifact; slsa.builder(a) == b}
	v := {
		"key": key(b),
		"message": message(b),
		"evidence_refs": [{"attestation": d} | some d in docs],
		"remediation": remediation(b),
	}
}

violation contains v if {
	not is_string_list(patterns)
	v := {
		"key": "params.trusted_builders",
		"message": sprintf("parameter trusted_builders of PCL-PROV-002 must be a list of builder id globs, not %v: no builder can be trusted (fail-closed)", [patterns]),
		"evidence_refs": [],
		"remediation": "Write trusted_builders as a list of strings in portcullis.yaml.",
	}
}

key(b) := b if b != ""

key(b) := "(no builder id)" if b == ""

message(b) := sprintf("SLSA provenance of %s names no builder id, so it cannot be matched against the trusted builders", [slsa.artifact_label]) if {
	b == ""
} else := sprintf("%s was built by %s, and no builder is trusted: parameter trusted_builders of PCL-PROV-002 is empty", [slsa.artifact_label, b]) if {
	count(patterns) == 0
} else := sprintf("%s was built by %s, which matches none of the trusted builders (%s)", [
	slsa.artifact_label, b, concat(", ", patterns),
])

remediation(b) := "Regenerate the provenance with a builder that records its id (runDetails.builder.id in SLSA v1)." if {
	b == ""
} else := sprintf("List the builder ids you trust in portcullis.yaml (rules: {PCL-PROV-002: {params: {trusted_builders: [...]}}}), for example %q, if %s is one of them.", [b, b]) if {
	count(patterns) == 0
} else := sprintf("Build the artifact on one of the trusted builders, or add %q to trusted_builders if that builder is trustworthy.", [b])
