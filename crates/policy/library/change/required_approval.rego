# Changes to the environments that matter are approved by a person before they happen. An
# approval counts when the firewall established it: granted by an approver token for this digest
# and environment (`portcullis approve`, the API, the dashboard) or signed by a trusted key. An
# approver the request merely names (`--approver`, the API's `context.approver`) is asserted: it
# counts only where the environment accepts asserted facts (by default, not protected ones). An
# approval by the requester itself never counts (PCL-CHG-003 reports it). An undeclared
# environment is treated as protected by the firewall (a typo in --env must not loosen the gate),
# so by default it needs an approval too.
package portcullis.rules.change.required_approval

import data.portcullis.lib

metadata := {
	"id": "PCL-CHG-002",
	"title": "Deployment without a recorded approval",
	"description": "The environment is one of `environments` (names or globs), or is not declared in portcullis.yaml while `require_in_undeclared` is true, and no approval counts: none was granted for this digest and environment (and change, when the request names one) by an approver token or a signed approval attestation, still in force and not by the requester; an approver the request only names counts where the environment accepts asserted facts.",
	"category": "regulatory",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {
		"nist-800-53": ["CM-3", "CM-3(1)", "CM-5"],
		"hipaa": ["164.308(a)(3)(ii)(A)"],
		"slsa": [],
	},
	"remediation": "Have someone other than the requester approve this digest for this environment with an approver token (`portcullis approve --artifact-digest DIGEST --env ENV --reason WHY`, `POST /v1/approvals`, or the dashboard), or sign an approval attestation with a trusted key.",
	"params": {"environments": ["production"], "require_in_undeclared": true},
}

params := lib.params(metadata)

is_string_list(x) if {
	is_array(x)
	every e in x {
		is_string(e)
	}
}

listed if {
	is_string_list(params.environments)
	some p in params.environments
	glob.match(p, null, input.environment.name)
}

undeclared if {
	params.require_in_undeclared == true
	input.environment.declared == false
}

approvals := object.get(input.context, "approvals", [])

requester := object.get(input.context, "requester", null)

self_approval(a) if {
	is_string(requester)
	lower(trim_space(a.approver)) == lower(trim_space(requester))
}

named(a) if {
	is_string(a.approver)
	trim_space(a.approver) != ""
}

approving contains a if {
	some a in approvals
	named(a)
	lib.counts(a)
	not self_approval(a)
}

approved if count(approving) > 0

# Why what there is does not count.
reasons contains why if {
	some a in approvals
	named(a)
	why := not_counted(a)
}

shortfall := sprintf("the approvals there are do not count: %s", [concat("; ", sort(reasons))]) if {
	count(reasons) > 0
} else := "there is none"

not_counted(a) := sprintf("%s approved their own request", [a.approver]) if self_approval(a)

else := sprintf("%s is only asserted by the request, and %s does not accept asserted facts", [a.approver, input.environment.name]) if not lib.counts(a)

violation contains v if {
	some why in {reason | listed; reason := "it requires an approved change"} | {reason | undeclared; reason := "it is not declared in portcullis.yaml, so it is treated as protected and requires an approved change"}
	not approved
	v := {
		"key": sprintf("approval|%s", [input.environment.name]),
		"message": sprintf("deploying %s@%s to %s needs an approval, and %s: %s", [
			input.artifact.name, input.artifact.digest, input.environment.name, shortfall, why,
		]),
		"evidence_refs": [],
	}
}

violation contains v if {
	some name, want in {"environments": "a list of environment names or globs", "require_in_undeclared": "true or false"}
	not valid(name)
	v := {
		"key": sprintf("params.%s", [name]),
		"message": sprintf("parameter %s of PCL-CHG-002 must be %s, not %v (fail-closed)", [name, want, params[name]]),
		"evidence_refs": [],
		"remediation": sprintf("Set %s of PCL-CHG-002 to %s in portcullis.yaml.", [name, want]),
	}
}

valid("environments") if is_string_list(params.environments)

valid("require_in_undeclared") if is_boolean(params.require_in_undeclared)
