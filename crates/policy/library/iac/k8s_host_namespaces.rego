# A Kubernetes workload sharing the node's network, process or IPC namespace.
package portcullis.rules.iac.k8s_host_namespaces

import data.portcullis.lib

metadata := {
	"id": "PCL-K8S-002",
	"title": "Host network, PID or IPC namespace shared",
	"description": "An IaC scanner reports a Kubernetes workload with hostNetwork, hostPID or hostIPC set: its containers see the node's network interfaces, processes or shared memory. One list of check ids per namespace (Checkov, Trivy in its three id spellings, KICS, kube-linter), matched against a finding's id, rule id and aliases without regard to case; add your tool's ids to extend them. PodSecurityPolicy checks are not listed. It also reads the pod spec of Kubernetes objects under review (`input.kubernetes`) and fires for each host namespace shared, keyed k8s|<namespace>/<kind>/<name>|<field>.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-39", "AC-6", "CM-7"],
		"hipaa": ["164.312(a)(1)"],
		"slsa": [],
	},
	"remediation": "Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).",
	"params": {
		"network_checks": [
			"CKV_K8S_19",
			"KSV009", "KSV-0009", "AVD-KSV-0009",
			"6b6bdfb3-c3ae-44cb-88e4-7405c1ba2c8a",
			"host-network",
		],
		"pid_checks": [
			"CKV_K8S_17",
			"KSV010", "KSV-0010", "AVD-KSV-0010",
			"302736f4-b16c-41b8-befe-c0baffa0bd9d",
			"host-pid",
		],
		"ipc_checks": [
			"CKV_K8S_18",
			"KSV008", "KSV-0008", "AVD-KSV-0008",
			"cd290efd-6c82-4e9d-a698-be12ae31d536",
			"host-ipc",
		],
	},
}

params := lib.params(metadata)

namespaces := [
	{"param": "network_checks", "name": "network", "field": "hostNetwork", "flag": "host_network"},
	{"param": "pid_checks", "name": "process (PID)", "field": "hostPID", "flag": "host_pid"},
	{"param": "ipc_checks", "name": "IPC", "field": "hostIPC", "flag": "host_ipc"},
]

checks := {ns.param: lib.upper_set(params[ns.param]) | some ns in namespaces; is_array(params[ns.param])}

all_checks := union({s | some s in checks})

# One pass over the findings for all three lists, then the namespace of each match.
# Package vulnerabilities never carry configuration check ids: they are skipped cheaply.
candidates := [f | some f in input.findings; f.kind != "vulnerability"; lib.matches_check(f, all_checks); not lib.settled(f)]

violation contains v if {
	some f in candidates
	some ns in namespaces
	lib.matches_check(f, checks[ns.param])
	place := lib.finding_place(f)
	v := {
		"key": f.key,
		"message": sprintf("%s shares the host's %s namespace (%s %s: %s)", [place, ns.name, lib.finding_tools(f), f.id, title(f)]),
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("In %s, remove %s from the pod spec (or set it to false).", [place, ns.field]),
	}
}

title(f) := f.title if f.title != null

title(f) := "host namespace shared" if f.title == null

violation contains lib.param_violation(metadata, msg) if {
	some ns in namespaces
	not is_array(params[ns.param])
	msg := sprintf("parameter %s must be a list of check ids", [ns.param])
}

# Kubernetes objects under review (manifests, the object of an admission request): the pod
# spec itself.
violation contains v if {
	some w in input.kubernetes
	some ns in namespaces
	w[ns.flag] == true
	v := {
		"key": sprintf("k8s|%s|%s", [w.key, ns.field]),
		"message": sprintf("%s (%s) shares the host's %s namespace (%s: true)", [w.key, w.source, ns.name, ns.field]),
		"evidence_refs": [{"manifest": w.source}],
		"remediation": sprintf("In %s, remove %s from the pod spec (or set it to false).", [w.source, ns.field]),
	}
}
