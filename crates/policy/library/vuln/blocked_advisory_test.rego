package portcullis.rules.vuln.blocked_advisory

log4j := {
	"id": "GHSA-jfh8-c2jp-5v3q",
	"aliases": ["CVE-2021-44228"],
	"summary": "Log4Shell",
	"severity": "critical",
	"published": null,
	"component": {"purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "name": "log4j-core", "version": "2.14.1"},
	"fixed_version": "2.15.0",
	"source": "sha256:00",
}

test_matched_advisory_is_a_violation if {
	vs := violation with input as {"advisories": [log4j]}
	count(vs) == 1
	some v in vs
	contains(v.message, "CVE-2021-44228")
	v.remediation == "Upgrade log4j-core to 2.15.0 or later."
}

test_no_advisory_no_violation if {
	count(violation) == 0 with input as {"advisories": []}
}

test_unfixed_advisory_says_so if {
	vs := violation with input as {"advisories": [object.union(log4j, {"fixed_version": null})]}
	some v in vs
	startswith(v.remediation, "No fixed version")
}
