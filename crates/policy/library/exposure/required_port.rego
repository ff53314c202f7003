# A port declared as required must be open: when it is not, the service runs somewhere or
# somehow other than reviewed (or not at all).
package portcullis.rules.exposure.required_port

metadata := {
	"id": "PCL-EXPO-005",
	"title": "Required port not open",
	"description": "An exposure check of kind `port-required` deviates: a port the declaration says must be open is closed or filtered, so the deployment does not serve what it declared (or serves it elsewhere).",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-7", "SC-7", "CP-10"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Start the listener or publish the port as declared, or correct the declaration.",
	"params": {},
}

checks := {"port-required"}

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
