package portcullis.rules.iac.k8s_latest_tag

checkov := {
	"key": "code:CKV_K8S_14|deploy.yaml:1",
	"kind": "misconfiguration",
	"id": "CKV_K8S_14",
	"aliases": [],
	"title": "Image Tag should be fixed - not latest or blank",
	"severity": "unknown",
	"cvss": null,
	"component": null,
	"location": {"path": "deploy.yaml", "line": 1, "resource": "Deployment.default.checkout"},
	"endpoint": null,
	"rule_id": "CKV_K8S_14",
	"cwes": [],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "checkov", "evidence": "sha256:0a", "id": "CKV_K8S_14", "severity": "unknown"}],
}

digest := "sha256:abababababababababababababababababababababababababababababababab"

pinned := {"name": "registry.example.com:5000/shop/checkout-api:2.4.0", "digest": digest}

test_checkov_finding_fires if {
	vs := violation with input as {"findings": [checkov], "artifact": pinned}
	count(vs) == 1
	some v in vs
	v.key == checkov.key
	v.message == "Deployment.default.checkout in deploy.yaml:1 uses an image by the latest tag or no tag (checkov CKV_K8S_14: Image Tag should be fixed - not latest or blank)"
}

test_artifact_named_latest_fires if {
	artifact := {"name": "registry.example.com:5000/shop/checkout-api:latest", "digest": digest}
	vs := violation with input as {"findings": [], "artifact": artifact}
	count(vs) == 1
	some v in vs
	v.key == "artifact:registry.example.com:5000/shop/checkout-api:latest"
	v.message == "the artifact registry.example.com:5000/shop/checkout-api:latest is named by the mutable tag \"latest\""
	contains(v.remediation, "registry.example.com:5000/shop/checkout-api:1.2.3")
}

test_versioned_or_untagged_artifact_does_not_fire if {
	untagged := {"name": "registry.example.com:5000/shop/checkout-api", "digest": digest}
	count(violation) == 0 with input as {"findings": [], "artifact": pinned}
	count(violation) == 0 with input as {"findings": [], "artifact": untagged}
}

test_other_checks_do_not_fire if {
	f := object.union(checkov, {"id": "CKV_K8S_43", "rule_id": "CKV_K8S_43", "title": "Image should use digest"})
	count(violation) == 0 with input as {"findings": [f], "artifact": pinned}
}

test_suppressed_does_not_fire if {
	f := object.union(checkov, {"suppressed": "dev chart"})
	count(violation) == 0 with input as {"findings": [f], "artifact": pinned}
}

test_mutable_tags_param if {
	artifact := {"name": "registry.example.com/shop/checkout-api:main", "digest": digest}
	count(violation) == 0 with input as {"findings": [], "artifact": artifact}
	vs := violation with input as {"findings": [], "artifact": artifact}
		with data.portcullis.params as {"PCL-K8S-004": {"mutable_tags": ["latest", "main"]}}
	count(vs) == 1
}

manifest_pod(images) := {
	"key": "shop/Pod/web",
	"api_version": "v1",
	"kind": "Pod",
	"namespace": "shop",
	"name": "web",
	"source": "pod.yaml#1",
	"labels": {},
	"workload": true,
	"host_network": false,
	"host_pid": false,
	"host_ipc": false,
	"containers": [c |
		some name, image in images
		c := {"name": name, "image": image, "init": false, "ephemeral": false, "privileged": false, "run_as_non_root": true, "run_as_user": 1000, "allow_privilege_escalation": false, "capabilities_add": [], "read_only_root_fs": true}
	],
	"object": {},
}

test_manifest_latest_and_untagged_fire if {
	w := manifest_pod({"a": "nginx:latest", "b": "registry.example.com:5000/shop/api", "c": "nginx:1.25"})
	vs := violation with input as {"findings": [], "artifact": pinned, "kubernetes": [w]}
	count(vs) == 2
	some a in vs
	a.key == "k8s|shop/Pod/web|a"
	a.message == "shop/Pod/web (pod.yaml#1): container a uses image nginx:latest by the mutable tag latest"
	some b in vs
	b.key == "k8s|shop/Pod/web|b"
	contains(b.message, "no tag (latest)")
}

test_manifest_pinned_images_do_not_fire if {
	w := manifest_pod({"a": "nginx:1.25", "b": concat("", ["nginx@", digest]), "c": concat("", ["nginx:latest@", digest])})
	count(violation) == 0 with input as {"findings": [], "artifact": pinned, "kubernetes": [w]}
}
