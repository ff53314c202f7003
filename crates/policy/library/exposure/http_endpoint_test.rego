package portcullis.rules.exposure.http_endpoint

entry(deviation) := {
	"target": "web/127.0.0.1:8443",
	"check": "http-status",
	"expected": "declared",
	"observed": "seen",
	"deviation": deviation,
	"message": "as probed",
	"evidence": "sha256:e9",
}

test_deviation_fires if {
	vs := violation with input as {"exposures": [entry(true)]}
	count(vs) == 1
	some v in vs
	v.key == "web/127.0.0.1:8443|http-status|declared"
	v.message == "web/127.0.0.1:8443: as probed (expected declared, observed seen)"
	v.evidence_refs == [{"exposure": "sha256:e9"}]
}

test_as_declared_passes if {
	count(violation) == 0 with input as {"exposures": [entry(false)]}
}

test_other_checks_are_not_judged if {
	other := object.union(entry(true), {"check": "something-else"})
	count(violation) == 0 with input as {"exposures": [other]}
}

test_nothing_observed_still_fires if {
	none := object.union(entry(true), {"observed": null, "evidence": null})
	vs := violation with input as {"exposures": [none]}
	some v in vs
	contains(v.message, "observed nothing")
	v.evidence_refs == []
}
