package portcullis.rules.evidence.incomplete_scan

sarif := {
	"digest": "sha256:0e", "source": "codeql.sarif", "format": "sarif", "kind": "sast",
	"tool": "CodeQL", "tool_version": "2.19.0", "created": null, "created_unix": null, "subject": null,
	"scan_errors": ["CodeQL: could not extract src/a.java"],
}

test_scan_errors_fire if {
	vs := violation with input as {"evidence": [sarif]}
	count(vs) == 1
	some v in vs
	v.key == "sha256:0e"
	v.message == "codeql.sarif (sha256:0e) is incomplete: CodeQL reported 1 error about its own run: CodeQL: could not extract src/a.java"
	v.evidence_refs == [{"evidence": "sha256:0e"}]
}

test_many_errors_are_counted_and_cut if {
	e := object.union(sarif, {"tool": null, "scan_errors": ["a", "b", "c", "d", "e"]})
	some v in violation with input as {"evidence": [e]}
	v.message == "codeql.sarif (sha256:0e) is incomplete: the tool reported 5 errors about its own run: a; b; c (and 2 more)"
}

test_clean_scan_does_not_fire if {
	e := object.union(sarif, {"scan_errors": []})
	count(violation) == 0 with input as {"evidence": [e]}
}
