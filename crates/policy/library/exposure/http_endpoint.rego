# A URL that does not answer as declared cannot be shown to send its security headers: fail
# closed rather than pass the header checks by omission.
package portcullis.rules.exposure.http_endpoint

metadata := {
	"id": "PCL-EXPO-013",
	"title": "HTTP endpoint not as declared",
	"description": "An exposure check of kind `http-status` or `http` deviates: the declared URL answers with another status, or does not answer at all, so its headers could not be checked either.",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CA-7", "SC-8"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Make the declared URL answer as declared, or correct the declaration.",
	"params": {},
}

checks := {"http-status", "http"}

violation contains v if {
	some e in input.exposures
	lower(e.check) in checks
	e.deviation == true
	v := {
		"key": sprintf("%s|%s|%s", [e.target, lower(e.check), text(e.expected)]),
		"message": sprintf("%s: %s (expected %s, observed %s)", [e.target, e.message, text(e.expected), text(e.observed)]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
	}
}

text(s) := s if s != null

text(s) := "nothing" if s == null
