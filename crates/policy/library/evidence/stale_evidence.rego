# Evidence older than a limit: a scan from weeks ago says nothing about advisories since.
package portcullis.rules.evidence.stale_evidence

import data.portcullis.lib

metadata := {
	"id": "PCL-EVID-001",
	"title": "Stale evidence",
	"description": "An evidence document of one of the checked kinds (default: vulnerability, SAST, DAST and IaC scans) was created more than max_age_days (default 30) days before the decision. SBOMs, attestations and advisories are not checked by default: what an artifact contains and how it was built do not go out of date. A document that states no creation time has an unknown age, which is not stale unless require_created is true.",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["RA-5", "CA-7"],
		"hipaa": ["164.308(a)(1)(ii)(A)", "164.308(a)(8)"],
		"slsa": [],
	},
	"remediation": "Re-run the scan on the artifact and pass the new report as evidence.",
	"params": {
		"max_age_days": 30,
		"kinds": ["vulnerability-scan", "sast", "dast", "iac"],
		"require_created": false,
	},
}

params := lib.params(metadata)

params_ok if {
	is_number(params.max_age_days)
	params.max_age_days >= 0
	is_array(params.kinds)
	is_boolean(params.require_created)
}

violation contains v if {
	params_ok
	some e in input.evidence
	e.kind in params.kinds
	e.created_unix != null
	age := input.context.time_unix - e.created_unix
	age > params.max_age_days * 86400
	v := {
		"key": e.digest,
		"message": sprintf("%s %s (%s) was created %s, %v days before this decision; the limit is %v days", [
			label(e), e.source, e.digest, e.created, floor(age / 86400), params.max_age_days,
		]),
		"evidence_refs": [{"evidence": e.digest}],
		"remediation": sprintf("Re-run %s on the artifact and pass the new report instead of %s.", [tool(e), e.source]),
	}
}

violation contains v if {
	params_ok
	params.require_created == true
	some e in input.evidence
	e.kind in params.kinds
	e.created_unix == null
	v := {
		"key": e.digest,
		"message": sprintf("%s %s (%s) states no creation time%s, so its age is unknown", [label(e), e.source, e.digest, unparsed(e)]),
		"evidence_refs": [{"evidence": e.digest}],
		"remediation": sprintf("Produce the report with a tool version that records when it ran, or set rules.%s.params.require_created to false.", [metadata.id]),
	}
}

label(e) := sprintf("%s %s report", [e.tool, e.kind]) if e.tool != null

label(e) := sprintf("%s report", [e.kind]) if e.tool == null

tool(e) := e.tool if e.tool != null

tool(e) := "the scanner" if e.tool == null

unparsed(e) := "" if e.created == null

unparsed(e) := sprintf(" that parses (it says %s)", [json.marshal(e.created)]) if e.created != null

violation contains lib.param_violation(metadata, "parameters: max_age_days must be a number of days (0 or more), kinds a list of evidence kinds, require_created true or false") if {
	not params_ok
}
