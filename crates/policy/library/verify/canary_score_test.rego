package portcullis.rules.verify.canary_score

artifact := {"name": "shop/checkout-api", "digest": "sha256:ab"}

production := {"name": "production", "protected": true, "declared": true, "labels": {}}

dev := {"name": "dev", "protected": false, "declared": true, "labels": {}}

canary(score) := {"kind": "canary", "score": score, "verdict": "fail", "evidence": "sha256:0c", "details": "p99 latency up 40%", "source": "recorded", "recorded_by": "token:tok_verifier"}

test_low_score_fires if {
	vs := violation with input as {"artifact": artifact, "environment": production, "verifications": [canary(72)]}
	count(vs) == 1
	some v in vs
	v.key == "canary|sha256:0c"
	v.message == "canary analysis of shop/checkout-api@sha256:ab scored 72 (verdict fail), below the minimum of 80: p99 latency up 40%"
	v.evidence_refs == [{"verification": "sha256:0c"}]
}

test_score_at_the_threshold_passes if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "verifications": [canary(80)]}
}

test_threshold_is_a_parameter if {
	count(violation) == 1 with input as {"artifact": artifact, "environment": production, "verifications": [canary(85)]}
		with data.portcullis.params as {"PCL-VERIFY-001": {"min_score": 90}}
}

test_missing_canary_fires_in_protected_environments if {
	vs := violation with input as {"artifact": artifact, "environment": production, "verifications": []}
	some v in vs
	v.key == "canary|missing"
}

test_missing_canary_is_fine_in_unprotected_environments if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": dev, "verifications": []}
}

test_missing_canary_can_be_allowed if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "verifications": []}
		with data.portcullis.params as {"PCL-VERIFY-001": {"require_in_protected": false}}
}

test_other_verifications_are_not_canaries if {
	load := object.union(canary(10), {"kind": "load-test"})
	vs := violation with input as {"artifact": artifact, "environment": dev, "verifications": [load]}
	count(vs) == 0
}

test_canary_without_document_has_a_plain_key if {
	vs := violation with input as {"artifact": artifact, "environment": dev, "verifications": [object.union(canary(12.5), {"evidence": null, "details": null})]}
	some v in vs
	v.key == "canary"
	v.evidence_refs == []
	endswith(v.message, "scored 12.5 (verdict fail), below the minimum of 80")
}

test_a_malformed_threshold_fails_closed if {
	vs := violation with input as {"artifact": artifact, "environment": dev, "verifications": [canary(99)]}
		with data.portcullis.params as {"PCL-VERIFY-001": {"min_score": "80"}}
	some v in vs
	v.key == "params.min_score"
}

# `portcullis verify canary` concludes pass, marginal or fail; the rule goes by the score.
test_a_marginal_canary_below_the_threshold_fires if {
	vs := violation with input as {"artifact": artifact, "environment": production, "verifications": [object.union(canary(78.5), {"verdict": "marginal"})]}
	some v in vs
	contains(v.message, "scored 78.5 (verdict marginal)")
}

test_a_marginal_canary_at_the_threshold_passes if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "verifications": [object.union(canary(80), {"verdict": "marginal"})]}
}

test_an_asserted_passing_canary_does_not_count_where_protected if {
	vs := violation with input as {"artifact": artifact, "environment": production, "verifications": [object.union(canary(99), {"verdict": "pass", "source": "asserted", "recorded_by": null})]}
	count(vs) == 1
	some v in vs
	v.key == "canary|missing"
	contains(v.message, "the request asserts 1, which do not count here")
}

test_an_asserted_failing_canary_still_fails if {
	vs := violation with input as {"artifact": artifact, "environment": production, "verifications": [object.union(canary(10), {"source": "asserted"})]}
	some v in vs
	v.key == "canary|sha256:0c"
}

test_an_asserted_canary_counts_where_the_environment_accepts_it if {
	env := object.union(production, {"accepts_asserted": true})
	count(violation) == 0 with input as {"artifact": artifact, "environment": env, "verifications": [object.union(canary(99), {"verdict": "pass", "source": "asserted"})]}
}
