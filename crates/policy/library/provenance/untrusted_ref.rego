# Where in the repository the build came from matters as much as which repository: a release
# built from a developer's branch has not been through the review the main branch and the
# release tags get. Verifiers pin the source ref (SLSA "Verifying artifacts": check the
# externalParameters, including the ref, against expectations). The default trusts any ref
# ("**"), so that only teams that list their branches and tags get the check.
package portcullis.rules.provenance.untrusted_ref

import data.portcullis.lib
import data.portcullis.lib.slsa

metadata := {
	"id": "PCL-PROV-005",
	"title": "Provenance from an untrusted branch or tag",
	"description": "Verified SLSA provenance of the artifact names a source ref (branch or tag, e.g. refs/heads/main, refs/tags/v1.2.0) that matches none of the trusted ref globs, or names no ref while refs are restricted. `*` does not cross `/`, `**` does; the default `[\"**\"]` trusts every ref.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-3", "CM-5", "SR-4", "SA-10"],
		"hipaa": [],
		"slsa": ["build-l1", "source"],
	},
	"remediation": "Build releases from a trusted branch or tag, or list the ref in the rule's `trusted_refs` parameter in portcullis.yaml.",
	"params": {"trusted_refs": ["**"]},
}

params := lib.params(metadata)

patterns := params.trusted_refs

is_string_list(x) if {
	is_array(x)
	every e in x {
		is_string(e)
	}
}

ref_of(a) := a.source_ref if a.source_ref != null

ref_of(a) := "" if a.source_ref == null

# Every ref is trusted only by "**" itself; "" (no ref) then passes too.
any_ref if "**" in patterns

untrusted contains r if {
	not any_ref
	some a in slsa.verified_for_artifact
	r := ref_of(a)
	not trusted(r)
}

trusted(r) if {
	r != ""
	lib.glob_any(patterns, r)
}

violation contains v if {
	is_string_list(patterns)
	some r in untrusted
	docs := {a.evidence | some a in slsa.verified_for_artifact; ref_of(a) == r}
	v := {
		"key": key(r),
		"message": message(r),
		"evidence_refs": [{"attestation": d} | some d in docs],
		"remediation": remediation(r),
	}
}

violation contains v if {
	not is_string_list(patterns)
	v := lib.param_violation(metadata, sprintf("parameter trusted_refs of PCL-PROV-005 must be a list of ref globs, not %v: no ref can be trusted (fail-closed)", [patterns]))
}

key(r) := r if r != ""

key(r) := "(no source ref)" if r == ""

message(r) := sprintf("verified SLSA provenance of %s names no source ref, so it cannot be matched against the trusted refs (%s)", [slsa.artifact_label, concat(", ", patterns)]) if {
	r == ""
} else := sprintf("%s was built from %s, which matches none of the trusted refs (%s)", [slsa.artifact_label, r, concat(", ", patterns)])

remediation(r) := "Regenerate the provenance with a builder that records the source ref." if {
	r == ""
} else := sprintf("Build the artifact from one of the trusted refs (%s), or add %q to trusted_refs if releases may come from it.", [concat(", ", patterns), r])
