# Changes to the environments that matter are approved by a person before they happen. The
# pipeline states the approver (`--approver`, or the API's context); the gate checks that one is
# named. An undeclared environment is treated as protected by the firewall (a typo in --env must
# not loosen the gate), so by default it needs an approval too.
package portcullis.rules.change.required_approval

import data.portcullis.lib

metadata := {
	"id": "PCL-CHG-002",
	"title": "Deployment without a recorded approval",
	"description": "The environment is one of `environments` (names or globs), or is not declared in portcullis.yaml while `require_in_undeclared` is true, and the request names no approver.",
	"category": "regulatory",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {
		"nist-800-53": ["CM-3", "CM-3(1)", "CM-5"],
		"hipaa": ["164.308(a)(3)(ii)(A)"],
		"slsa": [],
	},
	"remediation": "Have the change approved and pass the approver with the request (for example `portcullis gate --approver NAME`, from the approval step of the pipeline).",
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

approved if {
	is_string(input.context.approver)
	trim_space(input.context.approver) != ""
}

violation contains v if {
	some why in {reason | listed; reason := "it requires an approved change"} | {reason | undeclared; reason := "it is not declared in portcullis.yaml, so it is treated as protected and requires an approved change"}
	not approved
	v := {
		"key": sprintf("approval|%s", [input.environment.name]),
		"message": sprintf("deploying %s@%s to %s needs an approver, and the request names none: %s", [
			input.artifact.name, input.artifact.digest, input.environment.name, why,
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
