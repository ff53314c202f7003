# A Kubernetes workload whose containers may run as root.
package portcullis.rules.iac.k8s_run_as_root

import data.portcullis.lib

metadata := {
	"id": "PCL-K8S-003",
	"title": "Container may run as root",
	"description": "An IaC scanner reports a Kubernetes workload whose containers run as root or are not kept from it (runAsNonRoot not true, or runAsUser 0): the image's own user then decides, and most images default to root. `checks` lists the check ids that mean it (Checkov, Trivy in its three id spellings, KICS, kube-linter), matched against a finding's id, rule id and aliases without regard to case. Checks for a low but non-zero UID (CKV_K8S_40, KSV020) and Dockerfile USER checks are not listed; add them to extend the rule. It also reads the pod spec of Kubernetes objects under review (`input.kubernetes`) and fires for each container with runAsUser 0, or with no runAsUser and runAsNonRoot not true (pod-level settings inherited), keyed k8s|<namespace>/<kind>/<name>|<container>.",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["AC-6", "CM-6"],
		"hipaa": ["164.312(a)(1)"],
		"slsa": [],
	},
	"remediation": "Set securityContext.runAsNonRoot: true and a non-zero runAsUser in the pod or container spec, and build the image with a non-root USER.",
	"params": {"checks": [
		"CKV_K8S_23",
		"KSV012", "KSV-0012", "AVD-KSV-0012",
		"KSV105", "KSV-0105", "AVD-KSV-0105",
		"cf34805e-3872-4c08-bf92-6ff7bb0cfadb",
		"run-as-non-root",
	]},
}

params := lib.params(metadata)

checks := lib.upper_set(params.checks)

violation contains v if {
	is_array(params.checks)
	some f in input.findings
	# Package vulnerabilities never carry configuration check ids: skip them cheaply.
	f.kind != "vulnerability"
	lib.matches_check(f, checks)
	not lib.settled(f)
	place := lib.finding_place(f)
	v := {
		"key": f.key,
		"message": sprintf("%s may run containers as root (%s %s: %s)", [place, lib.finding_tools(f), f.id, title(f)]),
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("In %s, set securityContext.runAsNonRoot: true and a non-zero runAsUser, and build the image with a non-root USER.", [place]),
	}
}

title(f) := f.title if f.title != null

title(f) := "runs as root" if f.title == null

violation contains lib.param_violation(metadata, "parameter checks must be a list of check ids") if not is_array(params.checks)

# Kubernetes objects under review (manifests, the object of an admission request): the pod
# spec itself. A container may run as root when runAsUser is 0, or when it is unset and
# runAsNonRoot is not true (the image's user decides).
violation contains v if {
	some w in input.kubernetes
	some c in w.containers
	may_run_as_root(c)
	v := {
		"key": sprintf("k8s|%s|%s", [w.key, c.name]),
		"message": sprintf("%s (%s): container %s may run as root (%s)", [w.key, w.source, c.name, root_reason(c)]),
		"evidence_refs": [{"manifest": w.source}],
		"remediation": sprintf("In %s, set securityContext.runAsNonRoot: true and a non-zero runAsUser for container %s (or the pod).", [w.source, c.name]),
	}
}

may_run_as_root(c) if c.run_as_user == 0

may_run_as_root(c) if {
	c.run_as_user == null
	c.run_as_non_root != true
}

root_reason(c) := "runAsUser: 0" if c.run_as_user == 0

root_reason(c) := "runAsNonRoot is not true and runAsUser is not set" if c.run_as_user != 0
