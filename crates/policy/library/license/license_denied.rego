# A component under a license the organization does not ship (network copyleft by default).
package portcullis.rules.license.license_denied

import data.portcullis.lib

metadata := {
	"id": "PCL-LIC-001",
	"title": "Component under a denied license",
	"description": "A component declares a license that cannot be satisfied without a license on the deny list (default: the AGPL family and SSPL, whose obligations reach a service's users over the network). Declarations are SPDX expressions: `MIT OR AGPL-3.0-only` leaves an allowed choice and does not violate; `MIT AND AGPL-3.0-only` does; `WITH` exceptions and `+` (or later) are understood. Deny entries are SPDX ids or globs (`AGPL-*`), compared without regard to case. When a component has several declarations (several license entries, or SBOMs that disagree), any one that requires a denied license violates. An expression nested too deeply to read violates if it names a denied license.",
	"category": "regulatory",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-10"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Replace the component with one under an acceptable license, take it under a commercial license, or have counsel approve an exception.",
	"params": {"deny": [
		"AGPL-1.0", "AGPL-1.0-only", "AGPL-1.0-or-later",
		"AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later",
		"SSPL-1.0",
	]},
}

params := lib.params(metadata)

deny := lib.license_patterns(params.deny)

# Each distinct declaration is judged once, however many components share it.
declarations := {l | some c in input.components; some l in c.licenses}

denied_declarations := {l | some l in declarations; denied_declaration(l)}

# The denied ids each denied declaration names.
denied_ids := {l: {id | some id in lib.license_ids(l); lib.license_matches(id, deny)} | some l in denied_declarations}

violation contains v if {
	is_array(params.deny)
	count(denied_declarations) > 0
	some c in input.components
	denied := [l | some l in c.licenses; l in denied_declarations]
	count(denied) > 0
	name := lib.component_label(c)
	ids := sort({id | some l in denied; some id in denied_ids[l]})
	v := {
		"key": c.key,
		"message": sprintf("%s is licensed %s, which requires %s (denied)", [
			name, concat(" and ", [json.marshal(l) | some l in denied]), concat(", ", ids),
		]),
		"evidence_refs": [{"component": c.key}],
		"remediation": sprintf("Replace %s with a component under an acceptable license, take it under a commercial license, or have counsel approve an exception for %s.", [c.name, concat(", ", ids)]),
	}
}

denied_declaration(l) if lib.license_blocked(l, deny, "deny")

denied_declaration(l) if {
	lib.license_unreadable(l, deny, "deny")
	some id in lib.license_ids(l)
	lib.license_matches(id, deny)
}

violation contains lib.param_violation(metadata, "parameter deny must be a list of SPDX license ids or globs") if not is_array(params.deny)
