package portcullis.rules.iac.k8s_host_namespaces

host_network := {
	"key": "code:CKV_K8S_19|deploy.yaml:1",
	"kind": "misconfiguration",
	"id": "CKV_K8S_19",
	"aliases": [],
	"title": "Containers should not share the host network namespace",
	"severity": "unknown",
	"cvss": null,
	"component": null,
	"location": {"path": "deploy.yaml", "line": 1, "resource": "Deployment.default.checkout"},
	"endpoint": null,
	"rule_id": "CKV_K8S_19",
	"cwes": [],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "checkov", "evidence": "sha256:08", "id": "CKV_K8S_19", "severity": "unknown"}],
}

test_host_network_fires if {
	vs := violation with input as {"findings": [host_network]}
	count(vs) == 1
	some v in vs
	v.key == host_network.key
	v.message == "Deployment.default.checkout in deploy.yaml:1 shares the host's network namespace (checkov CKV_K8S_19: Containers should not share the host network namespace)"
	contains(v.remediation, "remove hostNetwork")
}

test_host_pid_and_ipc_fire if {
	pid := object.union(host_network, {"key": "p", "id": "KSV-0010", "rule_id": "KSV-0010", "title": "Access to host PID"})
	ipc := object.union(host_network, {"key": "i", "id": "host-ipc", "rule_id": "host-ipc", "title": null})
	vs := violation with input as {"findings": [pid, ipc]}
	count(vs) == 2
	some a in vs
	a.key == "p"
	contains(a.message, "process (PID) namespace")
	contains(a.remediation, "hostPID")
	some b in vs
	b.key == "i"
	contains(b.message, "IPC namespace")
}

test_host_port_does_not_fire if {
	f := object.union(host_network, {"id": "CKV_K8S_26", "rule_id": "CKV_K8S_26"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_suppressed_does_not_fire if {
	f := object.union(host_network, {"suppressed": "CNI daemonset"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_overriding_one_list_keeps_the_others if {
	pid := object.union(host_network, {"key": "p", "id": "CKV_K8S_17", "rule_id": "CKV_K8S_17"})
	vs := violation with input as {"findings": [host_network, pid]}
		with data.portcullis.params as {"PCL-K8S-002": {"network_checks": []}}
	count(vs) == 1
	some v in vs
	v.key == "p"
}

daemonset := {
	"key": "kube-system/DaemonSet/agent",
	"api_version": "apps/v1",
	"kind": "DaemonSet",
	"namespace": "kube-system",
	"name": "agent",
	"source": "agent.yaml#1",
	"labels": {},
	"workload": true,
	"host_network": true,
	"host_pid": true,
	"host_ipc": false,
	"containers": [],
	"object": {},
}

test_manifest_host_namespaces_fire if {
	vs := violation with input as {"findings": [], "kubernetes": [daemonset]}
	count(vs) == 2
	some a in vs
	a.key == "k8s|kube-system/DaemonSet/agent|hostNetwork"
	a.message == "kube-system/DaemonSet/agent (agent.yaml#1) shares the host's network namespace (hostNetwork: true)"
	some b in vs
	b.key == "k8s|kube-system/DaemonSet/agent|hostPID"
}

test_manifest_without_host_namespaces_does_not_fire if {
	clean := object.union(daemonset, {"host_network": false, "host_pid": false})
	count(violation) == 0 with input as {"findings": [], "kubernetes": [clean]}
}
