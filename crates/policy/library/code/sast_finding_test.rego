package portcullis.rules.code.sast_finding

sqli := {
	"key": "code:java.lang.security.audit.formatted-sql-string|src/OrderRepository.java:42",
	"kind": "weakness",
	"id": "java.lang.security.audit.formatted-sql-string",
	"aliases": [],
	"title": "Formatted SQL string",
	"severity": "high",
	"cvss": null,
	"component": null,
	"location": {"path": "src/OrderRepository.java", "line": 42, "resource": null},
	"endpoint": null,
	"rule_id": "java.lang.security.audit.formatted-sql-string",
	"cwes": [89],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "semgrep", "evidence": "sha256:02", "id": "java.lang.security.audit.formatted-sql-string", "severity": "high"}],
}

test_high_weakness_fires if {
	vs := violation with input as {"findings": [sqli]}
	count(vs) == 1
	some v in vs
	v.key == sqli.key
	v.message == "semgrep rule java.lang.security.audit.formatted-sql-string reports Formatted SQL string at src/OrderRepository.java:42, CWE-89 (high)"
	contains(v.remediation, "src/OrderRepository.java:42")
}

test_medium_does_not_fire_by_default if {
	f := object.union(sqli, {"severity": "medium"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_unknown_severity_does_not_fire if {
	f := object.union(sqli, {"severity": "unknown"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_suppressed_does_not_fire if {
	f := object.union(sqli, {"suppressed": "nosec: input is a constant"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_other_kinds_do_not_fire if {
	a := object.union(sqli, {"kind": "misconfiguration"})
	b := object.union(sqli, {"kind": "secret", "key": "s"})
	count(violation) == 0 with input as {"findings": [a, b]}
}

test_min_severity_param if {
	f := object.union(sqli, {"severity": "medium"})
	vs := violation with input as {"findings": [f]}
		with data.portcullis.params as {"PCL-CODE-001": {"min_severity": "medium"}}
	count(vs) == 1
	vs2 := violation with input as {"findings": [sqli]}
		with data.portcullis.params as {"PCL-CODE-001": {"min_severity": "critical"}}
	count(vs2) == 0
}

test_bad_min_severity_is_reported if {
	vs := violation with input as {"findings": [sqli]}
		with data.portcullis.params as {"PCL-CODE-001": {"min_severity": "severe"}}
	count(vs) == 1
	some v in vs
	v.key == "PCL-CODE-001/params"
}

test_no_location_no_title if {
	f := object.union(sqli, {"location": null, "title": null, "cwes": [], "sources": []})
	some v in violation with input as {"findings": [f]}
	v.message == "a scanner rule java.lang.security.audit.formatted-sql-string reports a weakness at an unstated location (high)"
}
