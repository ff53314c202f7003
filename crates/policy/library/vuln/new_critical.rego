# A deployment must not make the environment worse: vulnerabilities at the configured severities
# that the version running there does not have are reported, even where the absolute thresholds
# (PCL-VULN-002) tolerate them. Findings are compared by key (stable across tools and runs);
# settled findings (VEX not_affected/false_positive/resolved, or suppressed) are ignored. With
# no previous deployment known (`input.previous` is null: a first deployment, or an environment
# the firewall has no inventory of) there is nothing to compare with and the rule says nothing.
# When the firewall compared the artifact with what its inventory says runs there
# (`input.diff.baseline.state` is `known`), PCL-DIFF-001 reports new vulnerabilities instead
# (matched without the component version, from the recorded evidence) and this rule stays silent,
# so one new vulnerability is not reported twice.
package portcullis.rules.vuln.new_critical

import data.portcullis.lib

metadata := {
	"id": "PCL-VULN-004",
	"title": "New critical vulnerability compared with the running version",
	"description": "A vulnerability at one of `severities` (default critical) that the version running in this environment does not have (compared by finding key). Silent when the running version is unknown.",
	"category": "security",
	"severity": "critical",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["RA-5", "SI-2", "CM-4", "CA-7"],
		"hipaa": ["164.308(a)(1)(ii)(A)", "164.308(a)(1)(ii)(B)"],
		"slsa": [],
	},
	"remediation": "Upgrade or remove the component that brings the new vulnerability, or keep the running version until a fix is available.",
	"params": {"severities": ["critical"]},
}

params := lib.params(metadata)

severities := {lower(s) | some s in params.severities}

valid_severities if {
	is_array(params.severities)
	every s in params.severities {
		is_string(s)
		lower(s) in object.keys(lib.severity_rank)
	}
}

violation contains v if {
	valid_severities
	input.previous != null
	not compared_with_inventory
	running := {f.key | some f in input.previous.findings}
	some f in input.findings
	f.kind == "vulnerability"
	lower(f.severity) in severities
	not lib.settled(f)
	not f.key in running
	v := {
		"key": f.key,
		"message": sprintf("%s (%s%s) in %s is new in %s: the running version %s@%s does not have it", [
			f.id, f.severity, aliases(f), subject(f), input.environment.name,
			input.previous.artifact.name, input.previous.artifact.digest,
		]),
		"severity": f.severity,
		"evidence_refs": [{"finding": f.key}],
		"remediation": remediation(f),
	}
}

violation contains v if {
	not valid_severities
	v := {
		"key": "params.severities",
		"message": sprintf("parameter severities of PCL-VULN-004 must be a list of severities (%s), not %v (fail-closed)", [
			concat(", ", object.keys(lib.severity_rank)), params.severities,
		]),
		"evidence_refs": [],
		"remediation": "Set severities of PCL-VULN-004 to a list such as [critical, high] in portcullis.yaml.",
	}
}

compared_with_inventory if input.diff.baseline.state == "known"

aliases(f) := "" if count(f.aliases) == 0

aliases(f) := sprintf(", also %s", [concat(", ", f.aliases)]) if count(f.aliases) > 0

subject(f) := lib.component_label(f.component) if f.component != null

subject(f) := f.location.path if {
	f.component == null
	f.location != null
}

subject(f) := "the artifact" if {
	f.component == null
	f.location == null
}

remediation(f) := sprintf("Upgrade %s to a fixed version (%s), or keep running %s@%s until it is fixed.", [
	f.component.name, concat(", ", f.fixed_versions), input.previous.artifact.name, input.previous.artifact.digest,
]) if {
	f.component != null
	count(f.fixed_versions) > 0
} else := sprintf("No fixed version is known: remove or replace what brings %s, or keep running %s@%s.", [
	f.id, input.previous.artifact.name, input.previous.artifact.digest,
])
