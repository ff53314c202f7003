package portcullis.rules.diff.downgrade

change(name, pkg, from, to) := {
	"package": pkg, "name": name, "ecosystem": "deb", "from": from, "to": to,
	"from_key": sprintf("%s@%s", [pkg, from]), "to_key": sprintf("%s@%s", [pkg, to]),
}

libpq := change("libpq5", "pkg:deb/debian/libpq5", "11.11-0+deb10u1", "11.10-0+deb10u1")

diff(downgraded) := {
	"baseline": {
		"state": "known", "reason": null,
		"artifact": {"name": "shop/api", "digest": "sha256:00"},
		"deployed_at": null, "decision": "d-1", "evidence": [],
	},
	"changes": {
		"components": {"added": [], "removed": [], "upgraded": [], "downgraded": downgraded, "unchanged": 3},
		"findings": {"new": [], "fixed": [], "unchanged": 0},
		"licenses": [],
		"provenance": {
			"baseline": {"verified": false, "attestations": 0, "builders": [], "source_repos": [], "source_commits": []},
			"candidate": {"verified": false, "attestations": 0, "builders": [], "source_repos": [], "source_commits": []},
			"changed": [],
		},
	},
}

req(d) := {"environment": {"name": "production"}, "diff": d}

test_a_downgrade_fires if {
	vs := violation with input as req(diff([libpq]))
	count(vs) == 1
	some v in vs
	v.key == "pkg:deb/debian/libpq5@11.10-0+deb10u1"
	v.message == "libpq5 is downgraded from 11.11-0+deb10u1 to 11.10-0+deb10u1: shop/api@sha256:00, running in production, has 11.11-0+deb10u1"
	v.evidence_refs == [{"component": "pkg:deb/debian/libpq5@11.10-0+deb10u1"}]
}

test_each_downgrade_is_reported if {
	curl := change("curl", "pkg:deb/debian/curl", "7.64.0-4+deb10u2", "7.64.0-4+deb10u1")
	count(violation) == 2 with input as req(diff([libpq, curl]))
}

test_no_downgrade_passes if {
	count(violation) == 0 with input as req(diff([]))
}

test_no_baseline_no_comparison if {
	unknown := {"baseline": {"state": "unknown", "reason": "no decision is recorded", "artifact": {"name": "shop/api", "digest": "sha256:00"}, "deployed_at": null, "decision": null, "evidence": []}, "changes": null}
	count(violation) == 0 with input as req(unknown)
	count(violation) == 0 with input as req(null)
}

test_ignored_packages_are_left_out if {
	count(violation) == 0 with input as req(diff([libpq])) with data.portcullis.params as {"PCL-DIFF-002": {"ignore": ["pkg:deb/debian/*"]}}
	count(violation) == 0 with input as req(diff([libpq])) with data.portcullis.params as {"PCL-DIFF-002": {"ignore": ["libpq5"]}}
	count(violation) == 1 with input as req(diff([libpq])) with data.portcullis.params as {"PCL-DIFF-002": {"ignore": ["curl"]}}
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as req(null) with data.portcullis.params as {"PCL-DIFF-002": {"ignore": "libpq5"}}
	some v in vs
	v.key == "PCL-DIFF-002/params"
}
