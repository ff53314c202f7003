# A deployment must not move a component to a lower version than the one running in the
# environment: a downgrade brings back what later versions fixed, and is rarely what a change
# means to do. Versions are ordered in Rust by the package's ecosystem (Debian, Maven, PEP 440,
# SemVer, ...); Rego never compares versions. Silent when nothing runs in the environment or its
# evidence is unknown. A deliberate rollback goes through an exception (key: the component).
package portcullis.rules.diff.downgrade

import data.portcullis.lib

metadata := {
	"id": "PCL-DIFF-002",
	"title": "Component downgraded compared with what runs in the environment",
	"description": "A component of the artifact is at a lower version than in the artifact running in this environment (per the inventory), in the ordering of its ecosystem. Packages matching `ignore` (globs over the package purl without version, or its name) are left out.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-3", "CM-4", "SI-2"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Build from the newer version of the component, or, for a deliberate rollback, record an exception for this component.",
	"params": {"ignore": []},
}

params := lib.params(metadata)

valid_ignore if {
	is_array(params.ignore)
	every p in params.ignore {
		is_string(p)
	}
}

ignored(c) if lib.glob_any(params.ignore, c.package)

ignored(c) if lib.glob_any(params.ignore, c.name)

violation contains v if {
	valid_ignore
	changes := input.diff.changes
	changes != null
	some c in changes.components.downgraded
	not ignored(c)
	running := input.diff.baseline.artifact
	v := {
		"key": c.to_key,
		"message": sprintf("%s is downgraded from %s to %s: %s@%s, running in %s, has %s", [
			c.name, c.from, c.to, running.name, running.digest, input.environment.name, c.from,
		]),
		"evidence_refs": [{"component": c.to_key}],
		"remediation": sprintf("Build with %s %s or later (what runs in %s), or record an exception for %s if the rollback is deliberate.", [
			c.name, c.from, input.environment.name, c.to_key,
		]),
	}
}

violation contains v if {
	not valid_ignore
	v := lib.param_violation(metadata, sprintf("parameter ignore of PCL-DIFF-002 must be a list of glob patterns, not %v (fail-closed)", [params.ignore]))
}
