package portcullis.rules.exposure.weak_tls

check(observed) := {
	"target": "checkout.example.com:443",
	"check": "tls",
	"expected": "TLSv1.2",
	"observed": observed,
	"deviation": false,
	"message": "handshake",
	"evidence": "sha256:e2",
}

test_tls_1_0_fires if {
	vs := violation with input as {"exposures": [check("TLSv1.0")]}
	count(vs) == 1
	some v in vs
	v.key == "checkout.example.com:443|tls"
	v.message == "checkout.example.com:443 accepts TLSv1.0, below the minimum TLSv1.2 (handshake)"
	v.evidence_refs == [{"exposure": "sha256:e2"}]
}

test_modern_versions_pass if {
	count(violation) == 0 with input as {"exposures": [check("TLSv1.2"), check("TLSv1.3")]}
}

test_spellings_are_recognized if {
	ranks("TLS 1.1") == {3}
	ranks("tls1_2") == {4}
	ranks("TLSv1") == {2}
	ranks("SSLv3") == {1}
	ranks("TLS1.3") == {5}
	ranks("TLS_AES_128_GCM_SHA256") == set()
}

test_version_order_is_not_string_order if {
	# "TLSv1.10" would sort after "TLSv1.2" as a string; ranks never compare strings.
	count(violation) == 1 with input as {"exposures": [check("SSLv3")]}
	count(violation) == 0 with input as {"exposures": [check("TLSv1.3")]}
		with data.portcullis.params as {"PCL-EXPO-002": {"min_version": "TLSv1.3"}}
}

test_lowest_of_several_counts if {
	vs := violation with input as {"exposures": [check("TLSv1.3, TLSv1.2, TLSv1.1")]}
	some v in vs
	contains(v.message, "accepts TLSv1.1")
}

test_minimum_is_a_parameter if {
	count(violation) == 1 with input as {"exposures": [check("TLSv1.2")]}
		with data.portcullis.params as {"PCL-EXPO-002": {"min_version": "TLS 1.3"}}
}

test_plaintext_fires if {
	vs := violation with input as {"exposures": [check("plaintext HTTP")]}
	some v in vs
	contains(v.message, "no TLS protocol version could be recognized")
}

test_other_tls_checks_are_not_judged if {
	cert := object.union(check("expires 2026-12-01"), {"expected": "certificate valid for 30 days"})
	count(violation) == 0 with input as {"exposures": [cert]}
}

test_a_malformed_minimum_fails_closed if {
	vs := violation with input as {"exposures": []}
		with data.portcullis.params as {"PCL-EXPO-002": {"min_version": "1.2"}}
	some v in vs
	v.key == "params.min_version"
}

test_a_stricter_declaration_fires_on_deviation if {
	modern := object.union(check("TLSv1.3, TLSv1.2"), {"expected": "TLSv1.3 or later", "deviation": true, "message": "accepts TLSv1.2"})
	vs := violation with input as {"exposures": [modern]}
	count(vs) == 1
	some v in vs
	v.message == "checkout.example.com:443 accepts TLSv1.2, which the declaration \"TLSv1.3 or later\" does not allow (accepts TLSv1.2)"
}

test_a_declaration_met_does_not_fire if {
	count(violation) == 0 with input as {"exposures": [object.union(check("TLSv1.3"), {"expected": "TLSv1.3 or later"})]}
}
