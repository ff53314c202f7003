# Post-deployment exposure checks compare what a service really exposes with what its
# expectation file declares. A port check that deviates means the attack surface is not the
# one that was reviewed: most often a port open that nobody declared (a debug listener, an
# admin console, a metrics endpoint published by mistake).
package portcullis.rules.exposure.open_port

metadata := {
	"id": "PCL-EXPO-001",
	"title": "Unexpected open port",
	"description": "An exposure check of kind `port` deviates from the declaration: a port is open that is not declared (or a declared port state does not hold). The declaration, not the scan, is the reviewed attack surface.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-7", "CM-7(1)", "SC-7", "CA-7"],
		"hipaa": ["164.312(a)(1)"],
		"slsa": [],
	},
	"remediation": "Close the port (stop the listener, remove the Service/ingress/firewall rule that publishes it), or declare it in the expectation file if it is meant to be open.",
	"params": {},
}

violation contains v if {
	some e in input.exposures
	lower(e.check) == "port"
	e.deviation == true
	v := {
		"key": sprintf("%s|port|%s", [e.target, port(e)]),
		"message": sprintf("%s: port check deviates from the declaration: observed %s, declared %s (%s)", [
			e.target, text(e.observed), text(e.expected), e.message,
		]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
		"remediation": remediation(e),
	}
}

# The port the violation is about: what was observed, else what was declared.
port(e) := e.observed if {
	e.observed != null
} else := e.expected if {
	e.expected != null
} else := "?"

text(s) := s if s != null

text(s) := "nothing" if s == null

remediation(e) := sprintf("Close %s on %s, or declare it in the expectation file if it is meant to be open.", [e.observed, e.target]) if {
	e.observed != null
} else := metadata.remediation
