package portcullis.rules.iac.k8s_run_as_root

trivy := {
	"key": "code:KSV012|deploy.yaml:20",
	"kind": "misconfiguration",
	"id": "KSV012",
	"aliases": [],
	"title": "Runs as root user",
	"severity": "medium",
	"cvss": null,
	"component": null,
	"location": {"path": "deploy.yaml", "line": 20, "resource": null},
	"endpoint": null,
	"rule_id": "KSV012",
	"cwes": [],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "trivy", "evidence": "sha256:09", "id": "KSV012", "severity": "medium"}],
}

test_trivy_root_fires if {
	vs := violation with input as {"findings": [trivy]}
	count(vs) == 1
	some v in vs
	v.message == "deploy.yaml:20 may run containers as root (trivy KSV012: Runs as root user)"
	contains(v.remediation, "In deploy.yaml:20, set securityContext.runAsNonRoot: true")
}

test_checkov_and_kics_fire if {
	c := object.union(trivy, {"key": "c", "id": "CKV_K8S_23", "rule_id": "CKV_K8S_23"})
	k := object.union(trivy, {"key": "k", "id": "CF34805E-3872-4C08-BF92-6FF7BB0CFADB", "rule_id": null})
	count(violation) == 2 with input as {"findings": [c, k]}
}

test_low_uid_is_not_root if {
	f := object.union(trivy, {"id": "CKV_K8S_40", "rule_id": "CKV_K8S_40"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_suppressed_does_not_fire if {
	f := object.union(trivy, {"suppressed": "init container"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_checks_param_extends_to_dockerfile_user if {
	f := object.union(trivy, {"id": "DS002", "rule_id": "DS002"})
	vs := violation with input as {"findings": [f]}
		with data.portcullis.params as {"PCL-K8S-003": {"checks": ["DS002", "AVD-DS-0002"]}}
	count(vs) == 1
}

container := {"name": "app", "image": "nginx:1.25", "init": false, "ephemeral": false, "privileged": false, "run_as_non_root": null, "run_as_user": null, "allow_privilege_escalation": null, "capabilities_add": [], "read_only_root_fs": null}

deployment := {
	"key": "default/Deployment/web",
	"api_version": "apps/v1",
	"kind": "Deployment",
	"namespace": null,
	"name": "web",
	"source": "deploy.yaml#2",
	"labels": {},
	"workload": true,
	"host_network": false,
	"host_pid": false,
	"host_ipc": false,
	"containers": [container],
	"object": {},
}

test_manifest_unset_user_fires if {
	vs := violation with input as {"findings": [], "kubernetes": [deployment]}
	count(vs) == 1
	some v in vs
	v.key == "k8s|default/Deployment/web|app"
	contains(v.message, "runAsNonRoot is not true")
}

test_manifest_uid_zero_fires_even_with_non_root if {
	c := object.union(container, {"run_as_non_root": true, "run_as_user": 0})
	vs := violation with input as {"findings": [], "kubernetes": [object.union(deployment, {"containers": [c]})]}
	count(vs) == 1
	some v in vs
	contains(v.message, "runAsUser: 0")
}

test_manifest_non_root_does_not_fire if {
	a := object.union(container, {"run_as_non_root": true})
	b := object.union(container, {"name": "b", "run_as_user": 1000})
	count(violation) == 0 with input as {"findings": [], "kubernetes": [object.union(deployment, {"containers": [a, b]})]}
}
