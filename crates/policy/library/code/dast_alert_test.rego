package portcullis.rules.code.dast_alert

xss := {
	"key": "dast:40012|GET https://shop.example.com/search|q",
	"kind": "dast",
	"id": "40012",
	"aliases": [],
	"title": "Cross Site Scripting (Reflected)",
	"severity": "high",
	"cvss": null,
	"component": null,
	"location": null,
	"endpoint": {"url": "https://shop.example.com/search", "method": "GET", "param": "q"},
	"rule_id": "40012",
	"cwes": [79],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "ZAP", "evidence": "sha256:04", "id": "40012", "severity": "high"}],
}

test_high_alert_fires if {
	vs := violation with input as {"findings": [xss]}
	count(vs) == 1
	some v in vs
	v.key == xss.key
	v.message == "ZAP alert 40012 Cross Site Scripting (Reflected) at GET https://shop.example.com/search (parameter q) (high)"
}

test_medium_alert_does_not_fire if {
	f := object.union(xss, {"severity": "medium"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_false_positive_does_not_fire if {
	f := object.union(xss, {"suppressed": "confidence 0 (false positive)"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_weakness_is_not_dast if {
	f := object.union(xss, {"kind": "weakness"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_min_severity_medium if {
	f := object.union(xss, {"severity": "medium", "endpoint": {"url": "https://shop.example.com/", "method": null, "param": null}})
	vs := violation with input as {"findings": [f]}
		with data.portcullis.params as {"PCL-DAST-001": {"min_severity": "medium"}}
	some v in vs
	contains(v.message, "at https://shop.example.com/ (medium)")
}

test_bad_param_reported if {
	vs := violation with input as {"findings": [xss]}
		with data.portcullis.params as {"PCL-DAST-001": {"min_severity": 3}}
	count(vs) == 1
	some v in vs
	v.key == "PCL-DAST-001/params"
}
