# Promotion order: the same artifact digest goes through the environments in order (staging
# before production), so that what reaches production is what was tried before. `input.history`
# holds the earlier decisions about this digest: where the firewall records the decision, its own
# record of decisions and deployments; a history the request asserts counts only where the
# environment accepts asserted facts. An environment not named in `order` has no prerequisite.
package portcullis.rules.change.promotion_order

import data.portcullis.lib

metadata := {
	"id": "PCL-CHG-004",
	"title": "Promotion order not followed",
	"description": "The environment requires the artifact to have passed earlier environments first (`order`: environment -> the environments before it), and the history shows no `allow` decision for this digest in one of them (with `require_deployed`, no allowed deployment there). Only history the firewall established counts, unless the environment accepts asserted facts.",
	"category": "quality",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {
		"nist-800-53": ["CM-3(2)", "CM-4(1)", "SA-11"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Deploy this exact digest to the earlier environments first and let it pass there, then promote it.",
	"params": {"order": {"production": ["staging"]}, "require_deployed": false},
}

params := lib.params(metadata)

is_string_list(x) if {
	is_array(x)
	every e in x {
		is_string(e)
	}
}

valid_order if {
	is_object(params.order)
	every _, before in params.order {
		is_string_list(before)
	}
}

prerequisites := object.get(params.order, input.environment.name, []) if valid_order else := []

history := [h | some h in input.history; lib.counts(h)]

passed(env) if {
	some h in history
	h.environment == env
	h.decision == "allow"
	deployment_ok(h)
}

deployment_ok(_) if params.require_deployed != true

deployment_ok(h) if h.deployed == true

violation contains v if {
	some before in prerequisites
	not passed(before)
	v := {
		"key": sprintf("promotion|%s", [before]),
		"message": sprintf("%s@%s must pass %s before %s, but %s", [
			input.artifact.name, input.artifact.digest, before, input.environment.name, history_text(before),
		]),
		"evidence_refs": [],
		"remediation": sprintf("Deploy %s@%s to %s first and let it pass there, then promote it to %s.", [
			input.artifact.name, input.artifact.digest, before, input.environment.name,
		]),
	}
}

history_text(env) := sprintf("it was allowed there (%s) and never deployed, and require_deployed is set", [
	concat(", ", sort([h.decided_at | some h in history; h.environment == env; h.decision == "allow"])),
]) if {
	some x in history
	x.environment == env
	x.decision == "allow"
} else := sprintf("every decision there denied it (%s)", [
	concat(", ", sort([h.decided_at | some h in history; h.environment == env])),
]) if {
	some x in history
	x.environment == env
} else := sprintf("the firewall has no decision about this digest there (the request asserts %d, which %s does not accept)", [
	count([h | some h in input.history; h.environment == env]), input.environment.name,
]) if {
	some x in input.history
	x.environment == env
} else := "there is no decision about this digest there"

violation contains v if {
	not valid_order
	v := {
		"key": "params.order",
		"message": sprintf("parameter order of PCL-CHG-004 must map each environment to a list of the environments before it, not %v (fail-closed)", [params.order]),
		"evidence_refs": [],
		"remediation": "Write order as {environment: [earlier environments]} in portcullis.yaml, e.g. {production: [staging]}.",
	}
}

violation contains v if {
	not is_boolean(params.require_deployed)
	v := {
		"key": "params.require_deployed",
		"message": sprintf("parameter require_deployed of PCL-CHG-004 must be true or false, not %v (fail-closed)", [params.require_deployed]),
		"evidence_refs": [],
		"remediation": "Set require_deployed of PCL-CHG-004 to true or false in portcullis.yaml.",
	}
}
