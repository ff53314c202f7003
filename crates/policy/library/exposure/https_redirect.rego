# Users who type the bare host name arrive over plain HTTP; only a redirect (with HSTS) moves
# them to HTTPS.
package portcullis.rules.exposure.https_redirect

metadata := {
	"id": "PCL-EXPO-012",
	"title": "Plain HTTP does not redirect to HTTPS",
	"description": "An exposure check of kind `http-redirect` deviates: a plain HTTP request to the host is not redirected to HTTPS on the same host (or gets no answer where a redirect was declared).",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-8", "SC-8(1)"],
		"hipaa": ["164.312(e)(1)"],
		"slsa": [],
	},
	"remediation": "Answer plain HTTP with a 301/308 redirect to the same host over HTTPS.",
	"params": {},
}

checks := {"http-redirect"}

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
