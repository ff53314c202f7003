package portcullis.rules.exposure.open_port

debug := {
	"target": "checkout-api.shop.svc:9229",
	"check": "port",
	"expected": null,
	"observed": "9229/tcp",
	"deviation": true,
	"message": "open port not in the declaration",
	"evidence": "sha256:e1",
}

declared := {
	"target": "checkout-api.shop.svc",
	"check": "port",
	"expected": "443/tcp",
	"observed": "443/tcp",
	"deviation": false,
	"message": "as declared",
	"evidence": "sha256:e1",
}

test_undeclared_open_port_fires if {
	vs := violation with input as {"exposures": [declared, debug]}
	count(vs) == 1
	some v in vs
	v.key == "checkout-api.shop.svc:9229|port|9229/tcp"
	v.message == "checkout-api.shop.svc:9229: port check deviates from the declaration: observed 9229/tcp, declared nothing (open port not in the declaration)"
	v.evidence_refs == [{"exposure": "sha256:e1"}]
	startswith(v.remediation, "Close 9229/tcp on checkout-api.shop.svc:9229")
}

test_ports_as_declared_pass if {
	count(violation) == 0 with input as {"exposures": [declared]}
}

test_other_checks_are_not_ports if {
	tls := object.union(debug, {"check": "tls"})
	count(violation) == 0 with input as {"exposures": [tls]}
}

test_a_deviation_without_observation_still_fires if {
	closed := object.union(declared, {"observed": null, "deviation": true, "evidence": null, "message": "no answer"})
	vs := violation with input as {"exposures": [closed]}
	some v in vs
	v.key == "checkout-api.shop.svc|port|443/tcp"
	v.evidence_refs == []
}
