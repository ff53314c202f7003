# A secret in the code or image: whoever can pull the artifact can use the credential.
package portcullis.rules.code.secret

import data.portcullis.lib

metadata := {
	"id": "PCL-CODE-002",
	"title": "Secret detected",
	"description": "A secret scanner (gitleaks, TruffleHog, Trivy, Checkov, Bandit's hard-coded password checks, …) found a credential, at any severity, that the tool did not suppress. It enforces in every environment: once a credential is in an artifact anyone who can read the artifact has it, and dev registries are read by many. The violation is at least high whatever the tool rated it.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {
		"nist-800-53": ["IA-5", "IA-5(7)", "SA-11"],
		"hipaa": ["164.312(a)(1)", "164.312(d)"],
		"slsa": [],
	},
	"remediation": "Revoke and rotate the credential, remove it from the code and its history, and read it from a secret store at run time.",
	"params": {},
}

violation contains v if {
	some f in input.findings
	f.kind == "secret"
	not lib.settled(f)
	place := lib.finding_place(f)
	v := {
		"key": f.key,
		"message": sprintf("%s found a secret (%s) at %s", [lib.finding_tools(f), what(f), place]),
		"severity": severity(f),
		"evidence_refs": [{"finding": f.key}],
		"remediation": sprintf("Revoke and rotate the credential found at %s, remove it from the code and its history, and read it from a secret store at run time.", [place]),
	}
}

what(f) := sprintf("%s: %s", [f.id, f.title]) if f.title != null

what(f) := f.id if f.title == null

severity(f) := "critical" if f.severity == "critical"

severity(f) := "high" if f.severity != "critical"
