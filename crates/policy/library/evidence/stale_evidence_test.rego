package portcullis.rules.evidence.stale_evidence

# 2026-11-23T12:00:00Z
ctx := {"time": "2026-11-23T12:00:00Z", "time_unix": 1795435200}

scan := {
	"digest": "sha256:0d", "source": "trivy.json", "format": "trivy", "kind": "vulnerability-scan",
	"tool": "trivy", "tool_version": "0.57.0",
	"created": "2026-10-01T00:00:00Z", "created_unix": 1790812800,
	"subject": null, "scan_errors": [],
}

test_old_scan_fires if {
	vs := violation with input as {"evidence": [scan], "context": ctx}
	count(vs) == 1
	some v in vs
	v.key == "sha256:0d"
	v.message == "trivy vulnerability-scan report trivy.json (sha256:0d) was created 2026-10-01T00:00:00Z, 53 days before this decision; the limit is 30 days"
	v.evidence_refs == [{"evidence": "sha256:0d"}]
	v.remediation == "Re-run trivy on the artifact and pass the new report instead of trivy.json."
}

test_recent_scan_does_not_fire if {
	recent := object.union(scan, {"created": "2026-11-20T09:15:12Z", "created_unix": 1795166112})
	count(violation) == 0 with input as {"evidence": [recent], "context": ctx}
}

test_exactly_the_limit_is_not_stale if {
	edge := object.union(scan, {"created_unix": ctx.time_unix - (30 * 86400)})
	count(violation) == 0 with input as {"evidence": [edge], "context": ctx}
}

test_old_sbom_is_not_checked_by_default if {
	sbom := object.union(scan, {"kind": "sbom", "format": "cyclonedx-json"})
	count(violation) == 0 with input as {"evidence": [sbom], "context": ctx}
}

test_unknown_age_is_not_stale_by_default if {
	undated := object.union(scan, {"created": null, "created_unix": null})
	count(violation) == 0 with input as {"evidence": [undated], "context": ctx}
}

test_require_created if {
	undated := object.union(scan, {"created": null, "created_unix": null, "tool": null})
	vs := violation with input as {"evidence": [undated], "context": ctx}
		with data.portcullis.params as {"PCL-EVID-001": {"require_created": true}}
	some v in vs
	v.message == "vulnerability-scan report trivy.json (sha256:0d) states no creation time, so its age is unknown"
}

test_max_age_param if {
	vs := violation with input as {"evidence": [scan], "context": ctx}
		with data.portcullis.params as {"PCL-EVID-001": {"max_age_days": 60}}
	count(vs) == 0
}

test_kinds_param if {
	sbom := object.union(scan, {"kind": "sbom"})
	vs := violation with input as {"evidence": [sbom], "context": ctx}
		with data.portcullis.params as {"PCL-EVID-001": {"kinds": ["sbom"]}}
	count(vs) == 1
}

test_bad_params_reported if {
	vs := violation with input as {"evidence": [scan], "context": ctx}
		with data.portcullis.params as {"PCL-EVID-001": {"max_age_days": "30"}}
	count(vs) == 1
	some v in vs
	v.key == "PCL-EVID-001/params"
}
