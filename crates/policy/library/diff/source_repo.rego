# The source repository an artifact is built from must not change between what runs in the
# environment and the candidate: a different repository under the same artifact name is a
# different product (or a hijacked pipeline). The facts come from the provenance attestations
# of both sides (`input.diff.changes.provenance`, verified ones preferred; repositories compared
# without `git+`, `.git` and case). Silent when either side states no repository (the provenance
# rules require provenance), when nothing runs there, or its evidence is unknown.
package portcullis.rules.diff.source_repo

import data.portcullis.lib

metadata := {
	"id": "PCL-DIFF-003",
	"title": "Source repository changed compared with what runs in the environment",
	"description": "The provenance of the artifact names a different source repository than the provenance of the artifact running in this environment under the same name.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SR-4", "CM-3", "SA-10"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Deploy an artifact built from the repository that runs in the environment, or, when the move is intended, record an exception approved by the owner of the environment.",
	"params": {},
}

violation contains v if {
	changes := input.diff.changes
	changes != null
	some c in changes.provenance.changed
	c.field == "source_repo"
	p := changes.provenance
	running := input.diff.baseline.artifact
	v := {
		"key": "source_repo",
		"message": sprintf("the source repository changes from %s to %s (%s provenance, %s for %s@%s running in %s)", [
			concat(", ", c.from), concat(", ", c.to), verified(p.candidate), verified(p.baseline),
			running.name, running.digest, input.environment.name,
		]),
		"evidence_refs": [{"attestation": a.evidence} |
			some a in input.attestations
			a.source_repo != null
		],
	}
}

verified(facts) := "verified" if facts.verified

verified(facts) := "unverified" if not facts.verified
