# A dynamic scan (DAST) alert at or above a severity: the running application can be attacked.
package portcullis.rules.code.dast_alert

import data.portcullis.lib

metadata := {
	"id": "PCL-DAST-001",
	"title": "DAST alert at a blocking severity",
	"description": "A dynamic scanner (OWASP ZAP or a SARIF producer) reports an alert at or above min_severity (default high: ZAP risk High) against the application. Alerts marked false positive in the tool (ZAP confidence 0) are suppressed and skipped.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SA-11", "SA-11(8)", "RA-5"],
		"hipaa": ["164.308(a)(1)(ii)(B)"],
		"slsa": [],
	},
	"remediation": "Fix the weakness at the reported endpoint and re-run the dynamic scan, or mark the alert as a false positive in the scanner.",
	"params": {"min_severity": "high"},
}

params := lib.params(metadata)

violation contains v if {
	lib.is_severity(params.min_severity)
	some f in input.findings
	f.kind == "dast"
	lib.at_least(f.severity, params.min_severity)
	not lib.settled(f)
	place := lib.finding_place(f)
	v := {
		"key": f.key,
		"message": sprintf("%s alert %s %s at %s (%s)", [lib.finding_tools(f), f.id, title(f), place, f.severity]),
		"severity": f.severity,
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("Fix %s at %s and re-run the dynamic scan, or mark the alert as a false positive in the scanner.", [title(f), place]),
	}
}

title(f) := f.title if f.title != null

title(f) := "the reported weakness" if f.title == null

violation contains lib.param_violation(metadata, msg) if {
	not lib.is_severity(params.min_severity)
	msg := sprintf("parameter min_severity is %s, which is not one of %s", [json.marshal(params.min_severity), lib.severity_words])
}
