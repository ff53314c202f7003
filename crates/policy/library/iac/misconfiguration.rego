# An infrastructure-as-code check that failed at or above a severity.
package portcullis.rules.iac.misconfiguration

import data.portcullis.lib

metadata := {
	"id": "PCL-IAC-001",
	"title": "IaC misconfiguration at a blocking severity",
	"description": "An IaC scanner (Checkov, Trivy, KICS, tfsec, kube-linter, …) reports a failed check at or above min_severity (default high) that it did not suppress. Checkov rates its checks only with a Prisma Cloud API key, so its findings are often of unknown severity: with include_unknown true (the default) an unrated failed check counts as reaching the threshold, because no rating is not a low rating. If your scanner rates nothing, select the checks you enforce in the scanner itself, or set include_unknown to false and rely on the specific rules (PCL-K8S-*).",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-6", "CM-2", "RA-5"],
		"hipaa": ["164.308(a)(1)(ii)(B)"],
		"slsa": [],
	},
	"remediation": "Change the configuration as the check describes, or skip the check in the scanner with a recorded reason.",
	"params": {"min_severity": "high", "include_unknown": true},
}

params := lib.params(metadata)

violation contains v if {
	lib.is_severity(params.min_severity)
	some f in input.findings
	f.kind == "misconfiguration"
	counts(f.severity)
	not lib.settled(f)
	place := lib.finding_place(f)
	v := {
		"key": f.key,
		"message": sprintf("%s check %s fails for %s: %s (%s)", [lib.finding_tools(f), f.id, place, title(f), rating(f)]),
		"severity": f.severity,
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("Change %s so that check %s passes, or skip the check in the scanner with a recorded reason.", [place, f.id]),
	}
}

counts(s) if {
	s != "unknown"
	lib.at_least(s, params.min_severity)
}

counts("unknown") if params.include_unknown == true

title(f) := f.title if f.title != null

title(f) := "no description" if f.title == null

rating(f) := f.severity if f.severity != "unknown"

rating(f) := "severity unknown: the scanner gave none" if f.severity == "unknown"

violation contains lib.param_violation(metadata, msg) if {
	not lib.is_severity(params.min_severity)
	msg := sprintf("parameter min_severity is %s, which is not one of %s", [json.marshal(params.min_severity), lib.severity_words])
}

violation contains lib.param_violation(metadata, "parameter include_unknown must be true or false") if {
	not is_boolean(params.include_unknown)
}
