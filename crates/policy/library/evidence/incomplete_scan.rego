# A scan whose tool reported errors about its own run: what it did not scan, it did not find.
package portcullis.rules.evidence.incomplete_scan

import data.portcullis.lib

metadata := {
	"id": "PCL-EVID-002",
	"title": "Incomplete scan",
	"description": "An evidence document says the tool's own run had errors (SARIF executionSuccessful false or error notifications, Semgrep errors, …): files or targets may not have been scanned, so the absence of findings proves less than it seems.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["RA-5", "SA-11", "CA-7"],
		"hipaa": ["164.308(a)(1)(ii)(A)"],
		"slsa": [],
	},
	"remediation": "Fix what made the scan fail, re-run it and pass the complete report as evidence.",
	"params": {},
}

max_listed := 3

violation contains v if {
	some e in input.evidence
	n := count(e.scan_errors)
	n > 0
	v := {
		"key": e.digest,
		"message": sprintf("%s (%s) is incomplete: %s reported %v error%s about its own run: %s%s", [
			e.source, e.digest, tool(e), n, plural(n), concat("; ", array.slice(e.scan_errors, 0, max_listed)), more(n),
		]),
		"evidence_refs": [{"evidence": e.digest}],
		"remediation": sprintf("Fix what made %s fail on %s, re-run it and pass the complete report.", [tool(e), e.source]),
	}
}

tool(e) := e.tool if e.tool != null

tool(e) := "the tool" if e.tool == null

plural(1) := ""

plural(n) := "s" if n != 1

more(n) := "" if n <= max_listed

more(n) := sprintf(" (and %v more)", [n - max_listed]) if n > max_listed
