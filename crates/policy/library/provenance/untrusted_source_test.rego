package portcullis.rules.provenance.untrusted_source

digest := "sha256:abababababababababababababababababababababababababababababababab"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

repo := "https://github.com/example-shop/checkout-api"

provenance := {
	"evidence": "sha256:01",
	"predicate_type": "https://slsa.dev/provenance/v1",
	"verified": true,
	"signers": ["ci"],
	"subjects": [{"name": "registry.example.com/shop/checkout-api", "digest": digest}],
	"builder_id": "https://github.com/actions/runner/github-hosted",
	"build_type": "https://actions.github.io/buildtypes/workflow/v1",
	"source_repo": repo,
	"source_ref": "refs/heads/main",
	"source_commit": "4f2d6c1b9e8a7d3c5b1f0e2a4c6d8b9e1f3a5c7d",
}

trust(list) := {"PCL-PROV-003": {"trusted_repos": list}}

test_trusted_repository_passes if {
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as trust(["https://github.com/example-shop/*"])
}

test_case_and_dot_git_do_not_matter if {
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as trust(["https://GitHub.com/Example-Shop/checkout-api.git"])
}

test_a_fork_is_untrusted if {
	fork := object.union(provenance, {"source_repo": "https://github.com/mallory/checkout-api"})
	vs := violation with input as {"artifact": artifact, "attestations": [fork]}
		with data.portcullis.params as trust(["https://github.com/example-shop/*"])
	count(vs) == 1
	some v in vs
	v.key == "https://github.com/mallory/checkout-api"
	contains(v.message, "built from https://github.com/mallory/checkout-api (refs/heads/main at 4f2d6c1b9e8a7d3c5b1f0e2a4c6d8b9e1f3a5c7d), which matches none")
	v.evidence_refs == [{"attestation": "sha256:01"}]
}

test_star_does_not_cross_a_slash if {
	count(violation) == 1 with input as {"artifact": artifact, "attestations": [provenance]}
		with data.portcullis.params as trust(["https://github.com/*"])
}

test_empty_trust_list_trusts_no_repository if {
	vs := violation with input as {"artifact": artifact, "attestations": [provenance]}
	some v in vs
	contains(v.message, "no repository is trusted: parameter trusted_repos of PCL-PROV-003 is empty")
}

test_no_source_repository_fires_when_repositories_are_listed if {
	unknown := object.union(provenance, {"source_repo": null, "source_ref": null, "source_commit": null})
	vs := violation with input as {"artifact": artifact, "attestations": [unknown]}
		with data.portcullis.params as trust(["https://github.com/example-shop/*"])
	some v in vs
	v.key == "(no source repository)"
	contains(v.message, "names no source repository")
}

test_provenance_of_other_artifacts_is_not_judged_here if {
	other := object.union(provenance, {"subjects": [{"name": "x", "digest": "sha256:cd"}]})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [other]}
}

test_a_malformed_parameter_fails_closed if {
	vs := violation with input as {"artifact": artifact, "attestations": []}
		with data.portcullis.params as trust({"repo": repo})
	some v in vs
	v.key == "params.trusted_repos"
}

test_unverified_provenance_is_not_judged_its_facts_are_claims if {
	# The firewall sets no facts on an attestation that does not verify; even if a document
	# carried some, they are a claim and PCL-PROV-001 reports the artifact instead.
	claim := object.union(provenance, {"verified": false, "signers": [], "failure": "untrusted_key"})
	count(violation) == 0 with input as {"artifact": artifact, "attestations": [claim]}
}
