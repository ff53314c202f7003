# A port declared as filtered must be dropped by the firewall, not merely closed: an answer
# (even a reset) means the network boundary the review relied on is not there.
package portcullis.rules.exposure.filtered_port

metadata := {
	"id": "PCL-EXPO-004",
	"title": "Port that must be filtered answers",
	"description": "An exposure check of kind `port-filtered` deviates: a port the declaration says the firewall drops answered (open, or closed with a reset). A reset tells an attacker the host is there and the rule that should drop the traffic is not in force.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-7", "SC-7", "SC-7(5)"],
		"hipaa": ["164.312(a)(1)"],
		"slsa": [],
	},
	"remediation": "Restore the firewall rule (security group, NetworkPolicy, host firewall) that drops traffic to this port.",
	"params": {},
}

checks := {"port-filtered"}

violation contains v if {
	some e in input.exposures
	lower(e.check) in checks
	e.deviation == true
	v := {
		"key": sprintf("%s|%s|%s", [e.target, lower(e.check), text(e.expected)]),
		"message": sprintf("%s: %s (expected %s, observed %s)", [e.target, e.message, text(e.expected), text(e.observed)]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
	}
}

text(s) := s if s != null

text(s) := "nothing" if s == null
