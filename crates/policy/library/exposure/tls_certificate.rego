# Certificate checks are separate observations (name, validity, chain, signature), one violation
# each, so that an exception for one (a private CA in staging) does not hide another (expiry).
package portcullis.rules.exposure.tls_certificate

metadata := {
	"id": "PCL-EXPO-007",
	"title": "TLS certificate problem",
	"description": "An exposure check of kind `tls-certificate` deviates: the certificate is not valid for the name, has expired or expires within the declared number of days, is not trusted by the declared CA bundle, or is signed with a weak algorithm (MD5, SHA-1).",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-8", "SC-13", "SC-17", "IA-5(2)"],
		"hipaa": ["164.312(e)(1)"],
		"slsa": [],
	},
	"remediation": "Issue a certificate for the served name from the expected CA, with a SHA-256 (or better) signature, and renew it before the declared margin.",
	"params": {},
}

checks := {"tls-certificate"}

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
