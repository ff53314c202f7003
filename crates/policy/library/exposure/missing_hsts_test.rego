package portcullis.rules.exposure.missing_hsts

header(observed, deviation) := {
	"target": "https://checkout.example.com/",
	"check": "header",
	"expected": "strict-transport-security",
	"observed": observed,
	"deviation": deviation,
	"message": "response headers",
	"evidence": "sha256:e3",
}

test_missing_header_fires if {
	vs := violation with input as {"exposures": [header(null, true)]}
	count(vs) == 1
	some v in vs
	v.key == "https://checkout.example.com/|header|strict-transport-security"
	v.message == "https://checkout.example.com/ does not send the Strict-Transport-Security header (response headers)"
	v.evidence_refs == [{"exposure": "sha256:e3"}]
}

test_header_as_declared_passes if {
	count(violation) == 0 with input as {"exposures": [header("max-age=31536000; includeSubDomains", false)]}
}

test_max_age_zero_fires_even_without_deviation if {
	vs := violation with input as {"exposures": [header("max-age=0; includeSubDomains", false)]}
	some v in vs
	contains(v.message, "turns HSTS off")
}

test_weak_header_deviation_fires if {
	vs := violation with input as {"exposures": [header("max-age=300", true)]}
	some v in vs
	contains(v.message, "does not meet the declaration")
}

test_other_headers_are_not_hsts if {
	csp := object.union(header(null, true), {"expected": "content-security-policy"})
	count(violation) == 0 with input as {"exposures": [csp]}
}
