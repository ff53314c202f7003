# Canary analysis compares the new version, running on a slice of traffic, with the baseline
# (metrics and logs) and gives a score from 0 to 100. A score below the threshold means the new
# version behaves worse than the one it replaces; no analysis at all means nobody looked, which
# a protected environment does not accept by default.
package portcullis.rules.verify.canary_score

import data.portcullis.lib

metadata := {
	"id": "PCL-VERIFY-001",
	"title": "Canary verification score below the threshold, or missing",
	"description": "A canary analysis of the artifact scored below `min_score` (0-100), or, in a protected environment with `require_in_protected`, there is no canary analysis the firewall established (recorded by its own run or signed by a trusted key; an inline result counts only where the environment accepts asserted facts).",
	"category": "performance-resiliency",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-3(2)", "CM-4", "CA-7", "SI-4"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Look at the canary analysis (the metrics and log templates that differ from the baseline), fix the regression and run the canary again.",
	"params": {"min_score": 80, "require_in_protected": true},
}

params := lib.params(metadata)

canaries := [c | some c in input.verifications; lower(c.kind) == "canary"]

# The analyses that may show a canary was looked at: recorded by the firewall's own run
# (`portcullis verify … --record`), signed by a trusted key, or asserted where the environment
# accepts asserted facts. A low score fails the rule whoever reports it.
counted := [c | some c in canaries; lib.counts(c)]

violation contains v if {
	is_number(params.min_score)
	some c in canaries
	c.score < params.min_score
	v := {
		"key": key(c),
		"message": sprintf("canary analysis of %s@%s scored %v (verdict %s), below the minimum of %v%s", [
			input.artifact.name, input.artifact.digest, c.score, c.verdict, params.min_score, details(c),
		]),
		"evidence_refs": [{"verification": d} | some d in [c.evidence]; d != null],
	}
}

violation contains v if {
	count(counted) == 0
	input.environment.protected == true
	params.require_in_protected == true
	v := {
		"key": "canary|missing",
		"message": sprintf("%s@%s has no canary analysis the firewall recorded%s, and %s is a protected environment that requires one", [
			input.artifact.name, input.artifact.digest, asserted_note, input.environment.name,
		]),
		"evidence_refs": [],
		"remediation": "Run the canary analysis with the firewall (`portcullis verify canary … --record`, or POST /v1/facts with a verifier token) or sign its report with a trusted key, or set require_in_protected to false for PCL-VERIFY-001 where canaries are not used.",
	}
}

violation contains v if {
	some name, want in {"min_score": "a number from 0 to 100", "require_in_protected": "true or false"}
	not valid(name)
	v := {
		"key": sprintf("params.%s", [name]),
		"message": sprintf("parameter %s of PCL-VERIFY-001 must be %s, not %v: the check cannot run (fail-closed)", [name, want, params[name]]),
		"evidence_refs": [],
		"remediation": sprintf("Set %s of PCL-VERIFY-001 to %s in portcullis.yaml.", [name, want]),
	}
}

valid("min_score") if is_number(params.min_score)

valid("require_in_protected") if is_boolean(params.require_in_protected)

asserted_note := sprintf(" (the request asserts %d, which do not count here)", [count(canaries)]) if count(canaries) > 0 else := ""

# One canary per evidence document; an analysis handed in without a document is just "canary".
key(c) := sprintf("canary|%s", [c.evidence]) if c.evidence != null

key(c) := "canary" if c.evidence == null

details(c) := sprintf(": %s", [c.details]) if c.details != null

details(c) := "" if c.details == null
