# Security headers are often lost between the application and the client (a proxy or CDN
# that rewrites responses); the probe sees what clients see.
package portcullis.rules.exposure.security_headers

metadata := {
	"id": "PCL-EXPO-008",
	"title": "Missing security header",
	"description": "An exposure check of kind `header` other than Strict-Transport-Security (PCL-EXPO-003) deviates: Content-Security-Policy (or one allowing unsafe-inline/unsafe-eval), X-Content-Type-Options nosniff, X-Frame-Options or frame-ancestors, or Referrer-Policy is missing where declared.",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-8", "SC-18", "SI-10"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Send the declared headers on every response (application, ingress or reverse proxy); a proxy that drops them must be configured to pass them on.",
	"params": {},
}

checks := {"header"}

violation contains v if {
	some e in input.exposures
	lower(e.check) in checks
	e.deviation == true
	not startswith(lower(trim_space(text(e.expected))), "strict-transport-security")
	v := {
		"key": sprintf("%s|%s|%s", [e.target, lower(e.check), text(e.expected)]),
		"message": sprintf("%s: %s (expected %s, observed %s)", [e.target, e.message, text(e.expected), text(e.observed)]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
	}
}

text(s) := s if s != null

text(s) := "nothing" if s == null
