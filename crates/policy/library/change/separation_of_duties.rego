# Separation of duties: the person who asks for a change does not approve it. Where a firewall
# records the decision, the requester is the caller it authenticated (a token or mTLS identity)
# and approvals carry the identity of the approver token that granted them, so identities are
# compared, not free text the caller wrote; the decision says which (`source`). Identities are
# compared trimmed and case-insensitively ("Ana@Example.com " is ana@example.com). When the
# requester is unknown the rule cannot show a violation; `require_known_requester` makes an
# unknown requester one (off by default: many pipelines do not state who triggered them, and
# PCL-CHG-002 already requires the approver).
package portcullis.rules.change.separation_of_duties

import data.portcullis.lib

metadata := {
	"id": "PCL-CHG-003",
	"title": "Change approved by its own requester",
	"description": "An approval of the request is by its requester (identities compared trimmed, case-insensitively; the requester is the authenticated caller where the firewall records the decision). With `require_known_requester`, a request whose requester is unknown is a violation too.",
	"category": "regulatory",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "off"},
	"controls": {
		"nist-800-53": ["AC-5", "CM-5(4)"],
		"hipaa": ["164.308(a)(3)(ii)(A)"],
		"slsa": [],
	},
	"remediation": "Have the change approved by someone other than its requester.",
	"params": {"require_known_requester": false},
}

params := lib.params(metadata)

norm(s) := lower(trim_space(s))

known(s) if {
	is_string(s)
	norm(s) != ""
}

requester := object.get(input.context, "requester", null)

requester_source := object.get(input.context, "requester_source", "asserted")

approvals := object.get(input.context, "approvals", [])

violation contains v if {
	known(requester)
	some a in approvals
	known(a.approver)
	norm(requester) == norm(a.approver)
	v := {
		"key": sprintf("self-approval|%s", [norm(requester)]),
		"message": sprintf("%s approved their own deployment of %s@%s to %s (requester %q, %s; approval %q by %q, %s)", [
			norm(requester), input.artifact.name, input.artifact.digest, input.environment.name,
			requester, requester_source, object.get(a, "id", ""), a.approver, object.get(a, "source", "asserted"),
		]),
		"evidence_refs": [],
	}
}

violation contains v if {
	params.require_known_requester == true
	not known(requester)
	v := {
		"key": "requester-unknown",
		"message": sprintf("the request to deploy %s@%s to %s names no requester, so separation of duties cannot be shown", [
			input.artifact.name, input.artifact.digest, input.environment.name,
		]),
		"evidence_refs": [],
		"remediation": "Pass the requester with the request (for example `portcullis gate --requester NAME`, from the pipeline's trigger).",
	}
}

violation contains v if {
	not is_boolean(params.require_known_requester)
	v := {
		"key": "params.require_known_requester",
		"message": sprintf("parameter require_known_requester of PCL-CHG-003 must be true or false, not %v (fail-closed)", [params.require_known_requester]),
		"evidence_refs": [],
		"remediation": "Set require_known_requester of PCL-CHG-003 to true or false in portcullis.yaml.",
	}
}
