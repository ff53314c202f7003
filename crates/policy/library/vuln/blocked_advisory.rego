# A component named in a blocked advisory (the Log4Shell case): the firewall's advisory feed
# says "nothing affected by this ships", whatever the scanners saw and in every environment.
package portcullis.rules.vuln.blocked_advisory

import data.portcullis.lib

metadata := {
	"id": "PCL-VULN-001",
	"title": "Component affected by a blocked advisory",
	"description": "A component of the artifact is in the affected range of an advisory the firewall blocks (matched with the advisory's own version ranges).",
	"category": "security",
	"severity": "critical",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {
		"nist-800-53": ["RA-5", "SI-2", "SI-5"],
		"hipaa": ["164.308(a)(1)(ii)(B)", "164.308(a)(5)(ii)(B)"],
		"slsa": [],
	},
	"remediation": "Upgrade the component to a version the advisory lists as fixed, or remove it.",
	"params": {},
}

violation contains v if {
	some a in input.advisories
	name := lib.component_label(a.component)
	v := {
		"key": sprintf("%s|%s", [a.id, name]),
		"message": sprintf("%s %s is affected by %s%s: %s", [
			a.component.name, a.component.version, a.id, aliases(a), summary(a),
		]),
		"severity": a.severity,
		"evidence_refs": [{"advisory": a.id, "evidence": a.source, "component": name}],
		"remediation": remediation(a),
	}
}

aliases(a) := "" if count(a.aliases) == 0

aliases(a) := sprintf(" (%s)", [concat(", ", a.aliases)]) if count(a.aliases) > 0

summary(a) := a.summary if a.summary != null

summary(a) := "no summary" if a.summary == null

remediation(a) := sprintf("Upgrade %s to %s or later.", [a.component.name, a.fixed_version]) if {
	a.fixed_version != null
}

remediation(a) := sprintf("No fixed version of %s is known: remove it or replace it.", [a.component.name]) if {
	a.fixed_version == null
}
