package portcullis.rules.iac.k8s_privileged

checkov := {
	"key": "code:CKV_K8S_16|deploy.yaml:1",
	"kind": "misconfiguration",
	"id": "CKV_K8S_16",
	"aliases": [],
	"title": "Container should not be privileged",
	"severity": "unknown",
	"cvss": null,
	"component": null,
	"location": {"path": "deploy.yaml", "line": 1, "resource": "Deployment.default.checkout"},
	"endpoint": null,
	"rule_id": "CKV_K8S_16",
	"cwes": [],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "checkov", "evidence": "sha256:06", "id": "CKV_K8S_16", "severity": "unknown"}],
}

# Trivy before 0.60 wrote KSV017 with AVD-KSV-0017 as an alias.
trivy := object.union(checkov, {
	"key": "code:KSV017|deploy.yaml:12",
	"id": "KSV017",
	"aliases": ["AVD-KSV-0017"],
	"rule_id": "KSV017",
	"title": "Privileged",
	"location": {"path": "deploy.yaml", "line": 12, "resource": "Deployment/checkout"},
	"sources": [{"tool": "trivy", "evidence": "sha256:07", "id": "KSV017", "severity": "high"}],
})

test_checkov_finding_fires if {
	vs := violation with input as {"findings": [checkov]}
	count(vs) == 1
	some v in vs
	v.key == checkov.key
	v.message == "Deployment.default.checkout in deploy.yaml:1 runs a privileged container (checkov CKV_K8S_16: Container should not be privileged)"
	not v.severity
}

test_trivy_ids_in_any_case_fire if {
	lower_case := object.union(trivy, {"id": "ksv-0017", "aliases": [], "rule_id": "ksv-0017"})
	count(violation) == 2 with input as {"findings": [trivy, object.union(lower_case, {"key": "k2"})]}
}

test_alias_matches if {
	f := object.union(trivy, {"id": "X", "rule_id": null, "aliases": ["AVD-KSV-0017"]})
	count(violation) == 1 with input as {"findings": [f]}
}

test_other_checks_do_not_fire if {
	f := object.union(checkov, {"id": "CKV_K8S_2", "rule_id": "CKV_K8S_2", "title": "Do not admit privileged containers"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_suppressed_does_not_fire if {
	f := object.union(checkov, {"suppressed": "node agent"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_checks_param_extends if {
	f := object.union(checkov, {"id": "ACME-PRIV", "rule_id": "ACME-PRIV"})
	vs := violation with input as {"findings": [f]}
		with data.portcullis.params as {"PCL-K8S-001": {"checks": ["acme-priv"]}}
	count(vs) == 1
}

test_bad_checks_param if {
	vs := violation with input as {"findings": [checkov]}
		with data.portcullis.params as {"PCL-K8S-001": {"checks": "CKV_K8S_16"}}
	count(vs) == 1
	some v in vs
	v.key == "PCL-K8S-001/params"
}

pod := {
	"key": "shop/Pod/web",
	"api_version": "v1",
	"kind": "Pod",
	"namespace": "shop",
	"name": "web",
	"source": "deploy.yaml#1",
	"labels": {},
	"workload": true,
	"host_network": false,
	"host_pid": false,
	"host_ipc": false,
	"containers": [
		{"name": "app", "image": "nginx:1.25", "init": false, "ephemeral": false, "privileged": true, "run_as_non_root": true, "run_as_user": 1000, "allow_privilege_escalation": false, "capabilities_add": [], "read_only_root_fs": true},
		{"name": "sidecar", "image": "envoy:1.30", "init": false, "ephemeral": false, "privileged": false, "run_as_non_root": true, "run_as_user": 1000, "allow_privilege_escalation": false, "capabilities_add": [], "read_only_root_fs": true},
	],
	"object": {},
}

test_manifest_privileged_container_fires if {
	vs := violation with input as {"findings": [], "kubernetes": [pod]}
	count(vs) == 1
	some v in vs
	v.key == "k8s|shop/Pod/web|app"
	v.message == "shop/Pod/web (deploy.yaml#1): container app is privileged (securityContext.privileged: true)"
	v.evidence_refs == [{"manifest": "deploy.yaml#1"}]
}

test_manifest_unprivileged_does_not_fire if {
	clean := object.union(pod, {"containers": [pod.containers[1]]})
	count(violation) == 0 with input as {"findings": [], "kubernetes": [clean]}
}
