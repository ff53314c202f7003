package portcullis.rules.vuln.new_critical

finding(key, id, severity) := {
	"key": key,
	"kind": "vulnerability",
	"id": id,
	"aliases": [],
	"title": null,
	"severity": severity,
	"cvss": null,
	"component": {"purl": "pkg:deb/debian/openssl@3.0.11", "name": "openssl", "version": "3.0.11"},
	"location": null,
	"endpoint": null,
	"rule_id": null,
	"cwes": [],
	"fixed_versions": ["3.0.14"],
	"fix_available": true,
	"fix_state": "fixed",
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [],
}

openssl := finding("vuln:CVE-2024-5535|pkg:deb/debian/openssl@3.0.11", "CVE-2024-5535", "critical")

log4j := finding("vuln:CVE-2021-44228|pkg:maven/log4j-core@2.14.1", "CVE-2021-44228", "critical")

previous(findings) := {"artifact": {"name": "shop/api", "digest": "sha256:00"}, "deployed_at": null, "findings": findings}

req(findings, prev) := {"environment": {"name": "production"}, "findings": findings, "previous": prev}

test_new_critical_fires if {
	vs := violation with input as req([openssl, log4j], previous([log4j]))
	count(vs) == 1
	some v in vs
	v.key == openssl.key
	v.message == "CVE-2024-5535 (critical) in pkg:deb/debian/openssl@3.0.11 is new in production: the running version shop/api@sha256:00 does not have it"
	v.evidence_refs == [{"finding": openssl.key}]
	v.remediation == "Upgrade openssl to a fixed version (3.0.14), or keep running shop/api@sha256:00 until it is fixed."
}

test_criticals_already_running_pass if {
	count(violation) == 0 with input as req([openssl, log4j], previous([openssl, log4j]))
}

test_no_previous_deployment_no_comparison if {
	count(violation) == 0 with input as req([openssl], null)
}

test_settled_findings_are_ignored if {
	settled := object.union(openssl, {"vex_state": "not_affected"})
	count(violation) == 0 with input as req([settled], previous([]))
}

test_lower_severities_pass_by_default if {
	high := object.union(openssl, {"severity": "high"})
	count(violation) == 0 with input as req([high], previous([]))
}

test_severities_is_a_parameter if {
	high := object.union(openssl, {"severity": "high"})
	vs := violation with input as req([high], previous([])) with data.portcullis.params as {"PCL-VULN-004": {"severities": ["critical", "High"]}}
	some v in vs
	v.severity == "high"
}

test_other_kinds_are_not_vulnerabilities if {
	secret := object.union(openssl, {"kind": "secret"})
	count(violation) == 0 with input as req([secret], previous([]))
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as req([], null) with data.portcullis.params as {"PCL-VULN-004": {"severities": ["severe"]}}
	some v in vs
	v.key == "params.severities"
}

test_silent_when_the_inventory_diff_is_known if {
	known := {"baseline": {"state": "known"}, "changes": {}}
	count(violation) == 0 with input as object.union(req([openssl], previous([])), {"diff": known})
	none := {"baseline": {"state": "none"}, "changes": null}
	count(violation) == 1 with input as object.union(req([openssl], previous([])), {"diff": none})
}
