# No SBOM for an artifact going to a protected environment: nobody can say what it contains.
package portcullis.rules.sbom.sbom_missing

import data.portcullis.lib

metadata := {
	"id": "PCL-SBOM-001",
	"title": "SBOM missing for a protected environment",
	"description": "A deployment to a protected environment comes without a software bill of materials (CycloneDX or SPDX). With require_subject_match true, an SBOM counts only if it names no digest or the artifact's digest; it is false by default because tools disagree on which digest names an image (Trivy falls back to the config digest, a CycloneDX metadata hash may be a file's), and a false deny on that is worse than trusting the pipeline to pass the right SBOM. Unprotected environments are not checked.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "off"},
	"controls": {
		"nist-800-53": ["CM-8", "SR-4", "RA-5"],
		"hipaa": ["164.308(a)(1)(ii)(A)"],
		"slsa": [],
	},
	"remediation": "Generate an SBOM of the artifact (e.g. `syft IMAGE -o cyclonedx-json` or `trivy image --format cyclonedx IMAGE`) and pass it as evidence.",
	"params": {"require_subject_match": false},
}

params := lib.params(metadata)

sboms := [e | some e in input.evidence; e.kind == "sbom"]

# An SBOM describes this artifact unless subjects must match and it names another digest.
describes_artifact(_) if params.require_subject_match == false

describes_artifact(e) if e.subject == null

describes_artifact(e) if {
	e.subject != null
	e.subject.digest == null
}

describes_artifact(e) if {
	is_string(e.subject.digest)
	lower(e.subject.digest) == lower(input.artifact.digest)
}

violation contains v if {
	input.environment.protected == true
	count(sboms) == 0
	v := {
		"key": sprintf("sbom:%s", [input.artifact.digest]),
		"message": sprintf("no SBOM was given for %s@%s, which is going to the protected environment %s", [
			input.artifact.name, input.artifact.digest, input.environment.name,
		]),
		"evidence_refs": [],
		"remediation": metadata.remediation,
	}
}

violation contains v if {
	input.environment.protected == true
	count(sboms) > 0
	not any_describes_artifact
	v := {
		"key": sprintf("sbom:%s", [input.artifact.digest]),
		"message": sprintf("the SBOMs given (%s) describe %s, not %s@%s, which is going to the protected environment %s", [
			concat(", ", sort({e.source | some e in sboms})),
			concat(", ", sort({e.subject.digest | some e in sboms; is_string(e.subject.digest)})),
			input.artifact.name, input.artifact.digest, input.environment.name,
		]),
		"evidence_refs": [{"evidence": e.digest} | some e in sboms],
		"remediation": sprintf("Generate the SBOM from the artifact being deployed (%s) and pass it as evidence.", [input.artifact.digest]),
	}
}

any_describes_artifact if {
	some e in sboms
	describes_artifact(e)
}

violation contains lib.param_violation(metadata, "parameter require_subject_match must be true or false") if {
	not is_boolean(params.require_subject_match)
}
