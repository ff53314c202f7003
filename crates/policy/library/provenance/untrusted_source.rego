# Provenance says which repository the artifact was built from. A build of the right code on a
# trusted builder from the wrong repository (a fork, a look-alike name) is still the wrong code,
# so verifiers check the source against what they expect (SLSA "Verifying artifacts": the
# externalParameters must match expectations). As with builders, an empty list trusts no
# repository: every provenance is reported until the repositories are listed ("**" trusts any).
package portcullis.rules.provenance.untrusted_source

import data.portcullis.lib
import data.portcullis.lib.slsa

metadata := {
	"id": "PCL-PROV-003",
	"title": "Provenance from an untrusted source repository",
	"description": "SLSA provenance of the artifact names a source repository that matches none of the trusted repository globs, or names none. Repositories are compared case-insensitively, without a trailing `.git` or `/`; `*` does not cross `/`, `**` does. An empty trust list trusts no repository.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SR-3", "SR-4", "SR-11", "CM-5"],
		"hipaa": [],
		"slsa": ["build-l1", "build-l2"],
	},
	"remediation": "Build the artifact from a trusted repository, or list the repository in the rule's `trusted_repos` parameter in portcullis.yaml.",
	"params": {"trusted_repos": []},
}

params := lib.params(metadata)

patterns := params.trusted_repos

is_string_list(x) if {
	is_array(x)
	every e in x {
		is_string(e)
	}
}

# normalize(r): lower case, without a trailing "/" or ".git".
normalize(r) := trim_suffix(trim_suffix(lower(trim_space(r)), "/"), ".git")

repo(a) := a.source_repo if a.source_repo != null

repo(a) := "" if a.source_repo == null

untrusted contains r if {
	some a in slsa.verified_for_artifact
	r := repo(a)
	not trusted(r)
}

trusted(r) if {
	r != ""
	some p in patterns
	glob.match(normalize(p), ["/"], normalize(r))
}

violation contains v if {
	is_string_list(patterns)
	some r in untrusted
	atts := [a | some a in slsa.verified_for_artifact; repo(a) == r]
	v := {
		"key": key(r),
		"message": message(r, atts),
		"evidence_refs": [{"attestation": d} | some d in {a.evidence | some a in atts}],
		"remediation": remediation(r),
	}
}

violation contains v if {
	not is_string_list(patterns)
	v := {
		"key": "params.trusted_repos",
		"message": sprintf("parameter trusted_repos of PCL-PROV-003 must be a list of repository globs, not %v: no repository can be trusted (fail-closed)", [patterns]),
		"evidence_refs": [],
		"remediation": "Write trusted_repos as a list of strings in portcullis.yaml.",
	}
}

key(r) := r if r != ""

key(r) := "(no source repository)" if r == ""

# where(atts): the refs and commits the provenance names, for the message.
where(atts) := "" if {
	refs := {sprintf("%s%s", [ref_of(a), commit_of(a)]) | some a in atts; ref_of(a) != ""}
	count(refs) == 0
} else := sprintf(" (%s)", [concat(", ", sort({sprintf("%s%s", [ref_of(a), commit_of(a)]) | some a in atts; ref_of(a) != ""}))])

ref_of(a) := a.source_ref if a.source_ref != null

ref_of(a) := "" if a.source_ref == null

commit_of(a) := sprintf(" at %s", [a.source_commit]) if a.source_commit != null

commit_of(a) := "" if a.source_commit == null

message(r, atts) := sprintf("SLSA provenance of %s names no source repository, so it cannot be matched against the trusted repositories", [slsa.artifact_label]) if {
	r == ""
} else := sprintf("%s was built from %s%s, and no repository is trusted: parameter trusted_repos of PCL-PROV-003 is empty", [slsa.artifact_label, r, where(atts)]) if {
	count(patterns) == 0
} else := sprintf("%s was built from %s%s, which matches none of the trusted repositories (%s)", [
	slsa.artifact_label, r, where(atts), concat(", ", patterns),
])

remediation(r) := "Regenerate the provenance with a builder that records the source repository (externalParameters in SLSA v1, invocation.configSource in v0.2)." if {
	r == ""
} else := sprintf("List the repositories you build from in portcullis.yaml (rules: {PCL-PROV-003: {params: {trusted_repos: [...]}}}), for example %q, if %s is one of them.", [r, r]) if {
	count(patterns) == 0
} else := sprintf("Build the artifact from one of the trusted repositories, or add %q to trusted_repos if that repository is trustworthy.", [r])
