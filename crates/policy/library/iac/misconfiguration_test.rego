package portcullis.rules.iac.misconfiguration

acl := {
	"key": "code:CKV_AWS_20|main.tf:1",
	"kind": "misconfiguration",
	"id": "CKV_AWS_20",
	"aliases": ["BC_AWS_S3_1"],
	"title": "S3 Bucket has an ACL defined which allows public READ access.",
	"severity": "unknown",
	"cvss": null,
	"component": null,
	"location": {"path": "main.tf", "line": 1, "resource": "aws_s3_bucket.logs"},
	"endpoint": null,
	"rule_id": "CKV_AWS_20",
	"cwes": [],
	"fixed_versions": [],
	"fix_available": false,
	"fix_state": null,
	"vex_state": null,
	"suppressed": null,
	"known_exploited": null,
	"sources": [{"tool": "checkov", "evidence": "sha256:05", "id": "CKV_AWS_20", "severity": "unknown"}],
}

test_unrated_check_fires_by_default if {
	vs := violation with input as {"findings": [acl]}
	count(vs) == 1
	some v in vs
	v.key == acl.key
	v.severity == "unknown"
	v.message == "checkov check CKV_AWS_20 fails for aws_s3_bucket.logs in main.tf:1: S3 Bucket has an ACL defined which allows public READ access. (severity unknown: the scanner gave none)"
}

test_unrated_check_skipped_when_include_unknown_false if {
	vs := violation with input as {"findings": [acl]}
		with data.portcullis.params as {"PCL-IAC-001": {"include_unknown": false}}
	count(vs) == 0
}

test_high_fires_medium_does_not if {
	high := object.union(acl, {"severity": "high"})
	medium := object.union(acl, {"severity": "medium", "key": "m"})
	vs := violation with input as {"findings": [high, medium]}
	count(vs) == 1
	some v in vs
	endswith(v.message, "(high)")
}

test_min_severity_medium if {
	medium := object.union(acl, {"severity": "medium"})
	vs := violation with input as {"findings": [medium]}
		with data.portcullis.params as {"PCL-IAC-001": {"min_severity": "medium"}}
	count(vs) == 1
}

test_suppressed_check_does_not_fire if {
	f := object.union(acl, {"suppressed": "skip-check: public website bucket"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_weakness_is_not_a_misconfiguration if {
	f := object.union(acl, {"kind": "weakness"})
	count(violation) == 0 with input as {"findings": [f]}
}

test_bad_params_reported if {
	vs := violation with input as {"findings": []}
		with data.portcullis.params as {"PCL-IAC-001": {"min_severity": "hi", "include_unknown": "yes"}}
	count(vs) == 2
}
