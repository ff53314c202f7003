# A team's own rule: every deployment to a protected environment names its change ticket.
package portcullis.rules.acme.change_reference

import data.portcullis.lib

metadata := {
	"id": "ACME-001",
	"title": "Deployment without a change reference",
	"description": "Deployments to protected environments must name the change ticket that approved them (--change-ref), so that the audit trail links each release to its change record.",
	"category": "business",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "off"},
	"controls": {"nist-800-53": ["CM-3"], "hipaa": [], "slsa": []},
	"remediation": "Pass the change ticket with --change-ref (or PORTCULLIS_CHANGE_REF).",
	"params": {"pattern": "^(CHG|INC)-[0-9]{4}-[0-9]+$"},
}

params := lib.params(metadata)

violation contains v if {
	input.environment.protected
	input.context.change_ref == null
	v := {
		"key": input.artifact.digest,
		"message": sprintf("%s goes to %s without a change reference", [input.artifact.name, input.environment.name]),
	}
}

violation contains v if {
	input.environment.protected
	ref := input.context.change_ref
	ref != null
	not regex.match(params.pattern, ref)
	v := {
		"key": input.artifact.digest,
		"message": sprintf("change reference %q does not look like a ticket id (%s)", [ref, params.pattern]),
	}
}
