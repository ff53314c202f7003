package portcullis.rules.diff.source_repo

facts(verified, repos) := {"verified": verified, "attestations": 1, "builders": [], "source_repos": repos, "source_commits": []}

diff(changed, cand_verified) := {
	"baseline": {
		"state": "known", "reason": null,
		"artifact": {"name": "shop/api", "digest": "sha256:00"},
		"deployed_at": null, "decision": "d-1", "evidence": [],
	},
	"changes": {
		"components": {"added": [], "removed": [], "upgraded": [], "downgraded": [], "unchanged": 0},
		"findings": {"new": [], "fixed": [], "unchanged": 0},
		"licenses": [],
		"provenance": {
			"baseline": facts(true, ["https://github.com/acme/shop"]),
			"candidate": facts(cand_verified, ["https://github.com/evil/shop"]),
			"changed": changed,
		},
	},
}

moved := [{"field": "source_repo", "from": ["https://github.com/acme/shop"], "to": ["https://github.com/evil/shop"]}]

att := {"evidence": "sha256:att", "source_repo": "https://github.com/evil/shop"}

req(d) := {"environment": {"name": "production"}, "diff": d, "attestations": [att, {"evidence": "sha256:other", "source_repo": null}]}

test_a_moved_repository_fires if {
	vs := violation with input as req(diff(moved, false))
	count(vs) == 1
	some v in vs
	v.key == "source_repo"
	v.message == "the source repository changes from https://github.com/acme/shop to https://github.com/evil/shop (unverified provenance, verified for shop/api@sha256:00 running in production)"
	v.evidence_refs == [{"attestation": "sha256:att"}]
}

test_verified_provenance_is_said if {
	some v in violation with input as req(diff(moved, true))
	contains(v.message, "(verified provenance, verified for")
}

test_other_changes_do_not_fire if {
	builder := [{"field": "builder", "from": ["a"], "to": ["b"]}]
	count(violation) == 0 with input as req(diff(builder, true))
	count(violation) == 0 with input as req(diff([], true))
}

test_no_baseline_no_comparison if {
	none := {"baseline": {"state": "none", "reason": "nothing runs", "artifact": null, "deployed_at": null, "decision": null, "evidence": []}, "changes": null}
	count(violation) == 0 with input as req(none)
	count(violation) == 0 with input as req(null)
}
