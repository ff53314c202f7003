# Without HSTS a browser's first request may go over plain HTTP, where an attacker on the path
# can strip TLS (RFC 6797). A header with max-age=0 tells browsers to forget HSTS: as bad as
# none, whatever the probe's comparison said.
package portcullis.rules.exposure.missing_hsts

metadata := {
	"id": "PCL-EXPO-003",
	"title": "Missing HSTS header",
	"description": "A header exposure check declared Strict-Transport-Security and the service does not send it as declared, or sends it with max-age=0.",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-8", "SC-8(1)", "SC-23"],
		"hipaa": ["164.312(e)(1)"],
		"slsa": [],
	},
	"remediation": "Send `Strict-Transport-Security: max-age=31536000; includeSubDomains` on every HTTPS response (application, ingress or load balancer).",
	"params": {},
}

hsts_checks := [e |
	some e in input.exposures
	lower(e.check) == "header"
	e.expected != null
	startswith(lower(trim_space(e.expected)), "strict-transport-security")
]

violation contains v if {
	some e in hsts_checks
	bad(e)
	v := {
		"key": sprintf("%s|header|strict-transport-security", [e.target]),
		"message": message(e),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
	}
}

bad(e) if e.deviation == true

bad(e) if disabled(e)

disabled(e) if {
	e.observed != null
	regex.match(`(?i)max-age\s*=\s*"?0+"?\s*(;|$)`, e.observed)
}

message(e) := sprintf("%s sends Strict-Transport-Security with max-age=0 (%q), which turns HSTS off", [e.target, e.observed]) if {
	disabled(e)
} else := sprintf("%s does not send the Strict-Transport-Security header (%s)", [e.target, e.message]) if {
	e.observed == null
} else := sprintf("%s sends Strict-Transport-Security %q, which does not meet the declaration %q (%s)", [e.target, e.observed, e.expected, e.message])
