package portcullis.rules.license.license_denied

component(licenses) := {
	"key": "pkg:npm/mongo-tool@1.0.0",
	"purl": "pkg:npm/mongo-tool@1.0.0",
	"name": "mongo-tool",
	"version": "1.0.0",
	"ecosystem": "npm",
	"licenses": licenses,
	"sources": ["sha256:0f"],
}

fires(licenses) if count(violation) == 1 with input as {"components": [component(licenses)]}

quiet(licenses) if count(violation) == 0 with input as {"components": [component(licenses)]}

test_denied_id_fires if {
	vs := violation with input as {"components": [component(["AGPL-3.0-only"])]}
	count(vs) == 1
	some v in vs
	v.key == "pkg:npm/mongo-tool@1.0.0"
	v.message == "pkg:npm/mongo-tool@1.0.0 is licensed \"AGPL-3.0-only\", which requires AGPL-3.0-only (denied)"
	v.evidence_refs == [{"component": "pkg:npm/mongo-tool@1.0.0"}]
}

test_allowed_licenses_do_not_fire if {
	quiet(["MIT"])
	quiet(["Apache-2.0", "BSD-3-Clause"])
	quiet([])
	quiet(["GPL-2.0-only WITH Classpath-exception-2.0"])
}

test_or_with_an_allowed_choice_does_not_fire if {
	quiet(["MIT OR AGPL-3.0-only"])
	quiet(["agpl-3.0-or-later or mit"])
	quiet(["(AGPL-3.0-only AND MIT) OR Apache-2.0"])
}

test_and_with_a_denied_license_fires if {
	fires(["MIT AND AGPL-3.0-only"])
	fires(["MIT AND (AGPL-3.0-only OR SSPL-1.0)"])
	fires(["((AGPL-3.0-only))"])
	fires(["Apache-2.0 AND (SSPL-1.0 OR (BSD-3-Clause AND AGPL-3.0-only))"])
	quiet(["Apache-2.0 AND (MIT OR (BSD-3-Clause AND SSPL-1.0))"])
}

test_or_of_denied_licenses_fires if {
	fires(["AGPL-3.0-only OR SSPL-1.0"])
}

test_case_plus_and_with_are_understood if {
	fires(["agpl-3.0-only"])
	fires(["AGPL-3.0+"])
	fires(["AGPL-3.0-or-later WITH Some-exception"])
}

test_any_denied_declaration_fires if {
	vs := violation with input as {"components": [component(["MIT", "MIT AND SSPL-1.0"])]}
	count(vs) == 1
	some v in vs
	contains(v.message, "licensed \"MIT AND SSPL-1.0\", which requires SSPL-1.0 (denied)")
}

test_unreadable_expression_naming_a_denied_license_fires if {
	fires(["MIT OR (AGPL-3.0-only"])
	quiet(["MIT OR (Apache-2.0"])
}

test_deny_param_globs if {
	vs := violation with input as {"components": [component(["GPL-3.0-only"])]}
		with data.portcullis.params as {"PCL-LIC-001": {"deny": ["GPL-*"]}}
	count(vs) == 1
	vs2 := violation with input as {"components": [component(["AGPL-3.0-only"])]}
		with data.portcullis.params as {"PCL-LIC-001": {"deny": []}}
	count(vs2) == 0
}

test_component_without_purl_is_named if {
	c := object.union(component(["SSPL-1.0"]), {"key": "mongo-tool@1.0.0", "purl": null})
	some v in violation with input as {"components": [c]}
	startswith(v.message, "mongo-tool@1.0.0 is licensed")
}
