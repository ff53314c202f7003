# Any origin allowed with credentials lets every web site read authenticated responses.
package portcullis.rules.exposure.cors_wildcard

metadata := {
	"id": "PCL-EXPO-010",
	"title": "Wildcard CORS with credentials",
	"description": "An exposure check of kind `cors` deviates: the service answers `Access-Control-Allow-Origin: *` together with `Access-Control-Allow-Credentials: true`.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["AC-4", "SC-7"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Allow only named origins when credentials are allowed, or drop Access-Control-Allow-Credentials.",
	"params": {},
}

checks := {"cors"}

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
