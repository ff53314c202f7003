# A workload, or the artifact itself, referenced by a mutable tag such as `latest`.
package portcullis.rules.iac.k8s_latest_tag

import data.portcullis.lib

metadata := {
	"id": "PCL-K8S-004",
	"title": "Image referenced by the latest tag or no tag",
	"description": "An IaC scanner reports a Kubernetes workload whose container image uses the `latest` tag or no tag (which means latest), so what runs can change without a deployment; or the artifact being deployed is itself named by one of mutable_tags (default `latest`). `checks` lists the scanner check ids that mean it (Checkov, Trivy in its three id spellings, KICS, kube-linter), matched against a finding's id, rule id and aliases without regard to case. An artifact name without a tag is not a violation: the decision binds its digest. It also reads Kubernetes objects under review (`input.kubernetes`) and fires for each container image without a digest whose tag is missing or one of mutable_tags, keyed k8s|<namespace>/<kind>/<name>|<container>.",
	"category": "security",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["CM-2", "CM-3", "SI-7"],
		"hipaa": ["164.312(c)(1)"],
		"slsa": [],
	},
	"remediation": "Reference images by an immutable version tag and, better, by digest (image@sha256:…).",
	"params": {
		"checks": [
			"CKV_K8S_14",
			"KSV013", "KSV-0013", "AVD-KSV-0013",
			"583053b7-e632-46f0-b989-f81ff8045385",
			"latest-tag",
		],
		"mutable_tags": ["latest"],
	},
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
		"message": sprintf("%s uses an image by the latest tag or no tag (%s %s: %s)", [place, lib.finding_tools(f), f.id, title(f)]),
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("In %s, reference the image by a version tag and digest (image:1.2.3@sha256:…) instead of latest.", [place]),
	}
}

title(f) := f.title if f.title != null

title(f) := "latest tag" if f.title == null

# The tag of an image name: after the last `:` of the last path segment (a registry port is
# in an earlier segment).
artifact_tag := tag if {
	segments := split(input.artifact.name, "/")
	last := segments[count(segments) - 1]
	contains(last, ":")
	parts := split(last, ":")
	tag := parts[count(parts) - 1]
}

violation contains v if {
	is_array(params.mutable_tags)
	artifact_tag in params.mutable_tags
	v := {
		"key": sprintf("artifact:%s", [input.artifact.name]),
		"message": sprintf("the artifact %s is named by the mutable tag %s", [input.artifact.name, json.marshal(artifact_tag)]),
		"remediation": sprintf("Name the artifact by an immutable version tag (for example %s) when you request the decision; the deployment should pull it by digest %s.", [
			replace_tag(input.artifact.name, artifact_tag, "1.2.3"), input.artifact.digest,
		]),
	}
}

replace_tag(name, tag, new) := concat("", [trim_suffix(name, tag), new])

violation contains lib.param_violation(metadata, sprintf("parameter %s must be a list", [p])) if {
	some p in ["checks", "mutable_tags"]
	not is_array(params[p])
}

# Kubernetes objects under review (manifests, the object of an admission request): container
# images without a digest whose tag is missing or one of mutable_tags.
violation contains v if {
	is_array(params.mutable_tags)
	some w in input.kubernetes
	some c in w.containers
	not contains(c.image, "@")
	tag := image_tag(c.image)
	mutable_image_tag(tag)
	v := {
		"key": sprintf("k8s|%s|%s", [w.key, c.name]),
		"message": sprintf("%s (%s): container %s uses image %s by %s", [w.key, w.source, c.name, c.image, tag_label(tag)]),
		"evidence_refs": [{"manifest": w.source}],
		"remediation": sprintf("In %s, reference the image of container %s by a version tag and digest (image:1.2.3@sha256:…).", [w.source, c.name]),
	}
}

# The tag of an image reference, "" when it has none.
image_tag(image) := tag if {
	segments := split(image, "/")
	last := segments[count(segments) - 1]
	contains(last, ":")
	parts := split(last, ":")
	tag := parts[count(parts) - 1]
} else := ""

mutable_image_tag(tag) if tag == ""

mutable_image_tag(tag) if tag in params.mutable_tags

tag_label(tag) := "no tag (latest)" if tag == ""

tag_label(tag) := sprintf("the mutable tag %s", [tag]) if tag != ""
