# Cookies without Secure leak over plain HTTP, without HttpOnly to scripts, without SameSite to
# cross-site requests.
package portcullis.rules.exposure.insecure_cookie

metadata := {
	"id": "PCL-EXPO-009",
	"title": "Insecure cookie",
	"description": "An exposure check of kind `cookie` deviates: a cookie is set without the declared Secure, HttpOnly or SameSite attribute.",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-8", "SC-23"],
		"hipaa": ["164.312(e)(1)"],
		"slsa": [],
	},
	"remediation": "Set cookies with `Secure; HttpOnly; SameSite=Lax` (or Strict).",
	"params": {},
}

checks := {"cookie"}

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
