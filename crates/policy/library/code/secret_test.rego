package portcullis.rules.code.secret

token := {
	"key": "code:aws-access-token|config/app.env:3",
	"kind": "secret",
	"id": "aws-access-token",
	"aliases": [],
	"title": "AWS Access Token",
	"severity": "low",
	"cvss": null,
	"component": null,
	"location": {"path": "config/app.env", "line": 3, "resource": null},
	"endpoint": null,
	"rule_id": "aws-access-token",
	"cwes": [798],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "gitleaks", "evidence": "sha256:03", "id": "aws-access-token", "severity": "low"}],
}

test_secret_fires_at_least_high if {
	vs := violation with input as {"findings": [token]}
	count(vs) == 1
	some v in vs
	v.key == token.key
	v.severity == "high"
	v.message == "gitleaks found a secret (aws-access-token: AWS Access Token) at config/app.env:3"
	contains(v.remediation, "config/app.env:3")
}

test_critical_secret_stays_critical if {
	f := object.union(token, {"severity": "critical"})
	some v in violation with input as {"findings": [f]}
	v.severity == "critical"
}

test_unknown_severity_secret_fires if {
	f := object.union(token, {"severity": "unknown", "title": null})
	some v in violation with input as {"findings": [f]}
	v.message == "gitleaks found a secret (aws-access-token) at config/app.env:3"
}

test_suppressed_secret_does_not_fire if {
	f := object.union(token, {"suppressed": "test fixture"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_weakness_is_not_a_secret if {
	f := object.union(token, {"kind": "weakness"})
	count(violation) == 0 with input as {"findings": [f]}
}
