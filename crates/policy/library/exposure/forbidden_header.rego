# Version banners tell an attacker which exploits to try first.
package portcullis.rules.exposure.forbidden_header

metadata := {
	"id": "PCL-EXPO-011",
	"title": "Forbidden response header",
	"description": "An exposure check of kind `forbidden-header` deviates: the service sends a header the declaration forbids, such as a Server header carrying a product version.",
	"category": "security",
	"severity": "low",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-7", "SI-11"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Remove the header, or its version (e.g. `server_tokens off` in nginx, `ServerTokens Prod` in Apache).",
	"params": {},
}

checks := {"forbidden-header"}

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
