# A component the organization has decided must not ship (by purl pattern).
package portcullis.rules.component.component_denied

import data.portcullis.lib

metadata := {
	"id": "PCL-COMP-001",
	"title": "Component on the deny list",
	"description": "A component's purl matches an entry of the deny list (empty by default). Each entry is a glob matched against the purl as given, without its qualifiers and subpath, and without its version, so `pkg:npm/event-stream` denies every version, `pkg:npm/event-stream@3.3.6` one, and `pkg:maven/org.apache.logging.log4j/log4j-core@2.1*` a range of them; `*` does not cross `/` and `**` does. `reasons` maps an entry to why it is denied, shown in the violation. Components without a purl cannot be matched. It enforces in every environment: the list is an explicit decision that these must not ship.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {
		"nist-800-53": ["CM-7(4)", "SR-3"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Remove the component or replace it with an approved alternative.",
	"params": {"deny": [], "reasons": {}},
}

params := lib.params(metadata)

params_ok if {
	is_array(params.deny)
	is_object(params.reasons)
}

# The purl, the purl without qualifiers and subpath, and that without its version.
candidates(purl) := {purl, core, unversioned} if {
	core := split(split(purl, "#")[0], "?")[0]
	unversioned := without_version(core)
}

without_version(core) := core if not contains(last_segment(core), "@")

without_version(core) := substring(core, 0, count(core) - count(version) - 1) if {
	parts := split(last_segment(core), "@")
	version := parts[count(parts) - 1]
	count(parts) > 1
}

last_segment(p) := segments[count(segments) - 1] if segments := split(p, "/")

violation contains v if {
	params_ok
	count(params.deny) > 0
	some c in input.components
	c.purl != null
	names := candidates(c.purl)
	matched := sort({p | some p in params.deny; some n in names; glob.match(p, ["/"], n)})
	count(matched) > 0
	v := {
		"key": c.key,
		"message": sprintf("%s is on the component deny list (%s)", [c.purl, concat("; ", [entry(p) | some p in matched])]),
		"evidence_refs": [{"component": c.key}],
		"remediation": sprintf("Remove %s or replace it with an approved alternative.", [c.name]),
	}
}

entry(p) := sprintf("%s: %s", [p, params.reasons[p]]) if is_string(params.reasons[p])

entry(p) := p if not is_string(params.reasons[p])

violation contains lib.param_violation(metadata, "parameters: deny must be a list of purl globs, reasons an object from entry to reason") if {
	not params_ok
}
