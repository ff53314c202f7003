# Only licenses on an allow list may ship (inactive until the list is given).
package portcullis.rules.license.license_allowed

import data.portcullis.lib

metadata := {
	"id": "PCL-LIC-002",
	"title": "Component license not on the allow list",
	"description": "When the allow list is set (it is empty, and the rule inactive, by default), every component must declare a license that can be satisfied with allowed licenses only: `MIT OR GPL-3.0-only` passes with MIT allowed; `MIT AND GPL-3.0-only` needs both. Entries are SPDX ids or globs, compared without regard to case. A component passes when any one of its declarations is satisfiable. A component that declares no license (none, NOASSERTION, UNKNOWN) violates unless allow_unknown is true; SPDX NONE (no license granted) is a license that is not on the list.",
	"category": "regulatory",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-10"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Replace the component, add its license to the allow list after legal review, or fix the SBOM if it misstates the license.",
	"params": {"allow": [], "allow_unknown": false},
}

params := lib.params(metadata)

allow := lib.license_patterns(params.allow)

active if {
	is_array(params.allow)
	count(params.allow) > 0
	is_boolean(params.allow_unknown)
}

# Each distinct declaration is judged once, however many components share it.
declarations := {l | some c in input.components; some l in c.licenses}

unknown_declarations := {l | some l in declarations; lib.license_unknown(l)}

unsatisfiable := {l | some l in declarations; not l in unknown_declarations; not satisfiable(l)}

known(c) := [l | some l in c.licenses; not l in unknown_declarations]

violation contains v if {
	active
	some c in input.components
	declared := known(c)
	count(declared) > 0
	every l in declared {
		l in unsatisfiable
	}
	name := lib.component_label(c)
	v := {
		"key": c.key,
		"message": sprintf("%s is licensed %s, which needs a license outside the allow list (%s)", [
			name, concat(" and ", [json.marshal(l) | some l in declared]), concat(", ", outside(declared)),
		]),
		"evidence_refs": [{"component": c.key}],
		"remediation": sprintf("Replace %s, add %s to rules.%s.params.allow after legal review, or correct the SBOM if it misstates the license.", [c.name, concat(", ", outside(declared)), metadata.id]),
	}
}

violation contains v if {
	active
	params.allow_unknown == false
	some c in input.components
	count(known(c)) == 0
	name := lib.component_label(c)
	v := {
		"key": c.key,
		"message": sprintf("%s declares no license%s; the allow list requires one", [name, as_declared(c)]),
		"evidence_refs": [{"component": c.key}],
		"remediation": sprintf("Find the license of %s and record it in the SBOM, replace the component, or set rules.%s.params.allow_unknown to true.", [c.name, metadata.id]),
	}
}

satisfiable(l) if {
	not lib.license_blocked(l, allow, "allow")
	not lib.license_unreadable(l, allow, "allow")
}

outside(declared) := sort({id | some l in declared; some id in lib.license_ids(l); not lib.license_matches(id, allow)})

as_declared(c) := "" if count(c.licenses) == 0

as_declared(c) := sprintf(" (it says %s)", [concat(", ", [json.marshal(l) | some l in c.licenses])]) if count(c.licenses) > 0

violation contains lib.param_violation(metadata, "parameters: allow must be a list of SPDX license ids or globs, allow_unknown true or false") if {
	not active
	not inactive_by_default
}

inactive_by_default if {
	is_array(params.allow)
	count(params.allow) == 0
	is_boolean(params.allow_unknown)
}
