# A Kubernetes workload with a privileged container: root on the node, no isolation left.
package portcullis.rules.iac.k8s_privileged

import data.portcullis.lib

metadata := {
	"id": "PCL-K8S-001",
	"title": "Privileged container",
	"description": "An IaC scanner reports a Kubernetes workload with a container in privileged mode (securityContext.privileged: true). Evidence is the scanner's finding; `checks` lists the check ids that mean it (Checkov, Trivy in its three id spellings, KICS, kube-linter), matched against a finding's id, rule id and aliases without regard to case: add your tool's id to extend it. PodSecurityPolicy checks (which only allow privileged pods) are not listed. It also reads the pod spec of Kubernetes objects under review (`input.kubernetes`: manifests given to the gate, the object of an admission request) and fires for each privileged container, keyed k8s|<namespace>/<kind>/<name>|<container>.",
	"category": "security",
	"severity": "critical",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["AC-6", "CM-7", "SC-39"],
		"hipaa": ["164.312(a)(1)"],
		"slsa": [],
	},
	"remediation": "Remove securityContext.privileged (or set it to false) and grant only the capabilities the container needs.",
	"params": {"checks": [
		"CKV_K8S_16",
		"KSV017", "KSV-0017", "AVD-KSV-0017",
		"dd29336b-fe57-445b-a26e-e6aa867ae609",
		"privileged-container",
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
		"message": sprintf("%s runs a privileged container (%s %s: %s)", [place, lib.finding_tools(f), f.id, title(f)]),
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("In %s, remove securityContext.privileged (or set it to false) and add only the capabilities the container needs.", [place]),
	}
}

title(f) := f.title if f.title != null

title(f) := "privileged container" if f.title == null

violation contains lib.param_violation(metadata, "parameter checks must be a list of check ids") if not is_array(params.checks)

# Kubernetes objects under review (manifests, the object of an admission request): the pod
# spec itself, without a scanner.
violation contains v if {
	some w in input.kubernetes
	some c in w.containers
	c.privileged == true
	v := {
		"key": sprintf("k8s|%s|%s", [w.key, c.name]),
		"message": sprintf("%s (%s): container %s is privileged (securityContext.privileged: true)", [w.key, w.source, c.name]),
		"evidence_refs": [{"manifest": w.source}],
		"remediation": sprintf("In %s, remove securityContext.privileged from container %s (or set it to false) and add only the capabilities it needs.", [w.source, c.name]),
	}
}
