# A static-analysis finding at or above a severity: the code about to ship has a known weakness.
package portcullis.rules.code.sast_finding

import data.portcullis.lib

metadata := {
	"id": "PCL-CODE-001",
	"title": "Static analysis finding at a blocking severity",
	"description": "A SAST tool (Semgrep, CodeQL, Bandit or any SARIF producer) reports a weakness at or above min_severity (default high) that is not suppressed or settled by VEX. Severity is the tool's own: a SARIF security-severity score when the rule has one, else the level (error is high, warning medium, note low); Semgrep ERROR is high; Bandit's issue severity. So with the default, error-level results block unless the rule scores them lower.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SA-11", "SA-11(1)", "RA-5"],
		"hipaa": ["164.308(a)(1)(ii)(B)"],
		"slsa": [],
	},
	"remediation": "Fix the code the finding points at, or mark it in the tool as a false positive with a reason.",
	"params": {"min_severity": "high"},
}

params := lib.params(metadata)

violation contains v if {
	lib.is_severity(params.min_severity)
	some f in input.findings
	f.kind == "weakness"
	lib.at_least(f.severity, params.min_severity)
	not lib.settled(f)
	place := lib.finding_place(f)
	v := {
		"key": f.key,
		"message": sprintf("%s rule %s reports %s at %s%s (%s)", [
			lib.finding_tools(f), f.id, title(f), place, cwe_text(f), f.severity,
		]),
		"severity": f.severity,
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("Fix %s as rule %s describes, or mark it in the tool as a false positive with a reason.", [place, f.id]),
	}
}

title(f) := f.title if f.title != null

title(f) := "a weakness" if f.title == null

cwe_text(f) := "" if count(f.cwes) == 0

cwe_text(f) := sprintf(", %s", [concat(", ", [sprintf("CWE-%v", [c]) | some c in f.cwes])]) if count(f.cwes) > 0

violation contains lib.param_violation(metadata, msg) if {
	not lib.is_severity(params.min_severity)
	msg := sprintf("parameter min_severity is %s, which is not one of %s", [json.marshal(params.min_severity), lib.severity_words])
}
