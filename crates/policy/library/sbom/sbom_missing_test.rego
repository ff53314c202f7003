package portcullis.rules.sbom.sbom_missing

digest := "sha256:abababababababababababababababababababababababababababababababab"

artifact := {"name": "registry.example.com/shop/checkout-api", "digest": digest}

production := {"name": "production", "protected": true, "declared": true, "labels": {}}

dev := {"name": "dev", "protected": false, "declared": true, "labels": {}}

scan := {
	"digest": "sha256:0b", "source": "trivy.json", "format": "trivy", "kind": "vulnerability-scan",
	"tool": "trivy", "tool_version": null, "created": null, "created_unix": null, "subject": null, "scan_errors": [],
}

sbom := object.union(scan, {"digest": "sha256:0c", "source": "app.cdx.json", "format": "cyclonedx-json", "kind": "sbom"})

test_protected_without_sbom_fires if {
	vs := violation with input as {"artifact": artifact, "environment": production, "evidence": [scan]}
	count(vs) == 1
	some v in vs
	v.key == sprintf("sbom:%s", [digest])
	v.message == sprintf("no SBOM was given for registry.example.com/shop/checkout-api@%s, which is going to the protected environment production", [digest])
}

test_protected_with_sbom_does_not_fire if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "evidence": [scan, sbom]}
}

test_unprotected_without_sbom_does_not_fire if {
	count(violation) == 0 with input as {"artifact": artifact, "environment": dev, "evidence": [scan]}
}

match := {"PCL-SBOM-001": {"require_subject_match": true}}

test_sbom_of_another_artifact_counts_by_default if {
	other := object.union(sbom, {"subject": {"name": "registry.example.com/shop/cart", "digest": "sha256:cdcd"}})
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "evidence": [other]}
}

test_sbom_of_another_artifact_fires_when_subjects_must_match if {
	other := object.union(sbom, {"subject": {"name": "registry.example.com/shop/cart", "digest": "sha256:cdcd"}})
	vs := violation with input as {"artifact": artifact, "environment": production, "evidence": [other]}
		with data.portcullis.params as match
	count(vs) == 1
	some v in vs
	contains(v.message, "the SBOMs given (app.cdx.json) describe sha256:cdcd, not")
	v.evidence_refs == [{"evidence": "sha256:0c"}]
}

test_sbom_naming_this_digest_or_none_counts if {
	same := object.union(sbom, {"subject": {"name": "x", "digest": upper(digest)}})
	unnamed := object.union(sbom, {"subject": {"name": "x", "digest": null}})
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "evidence": [same]}
		with data.portcullis.params as match
	count(violation) == 0 with input as {"artifact": artifact, "environment": production, "evidence": [unnamed]}
		with data.portcullis.params as match
}
