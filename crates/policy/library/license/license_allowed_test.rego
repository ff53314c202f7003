package portcullis.rules.license.license_allowed

component(licenses) := {
	"key": "pkg:cargo/some-crate@0.3.1",
	"purl": "pkg:cargo/some-crate@0.3.1",
	"name": "some-crate",
	"version": "0.3.1",
	"ecosystem": "cargo",
	"licenses": licenses,
	"sources": ["sha256:10"],
}

allow_params := {"PCL-LIC-002": {"allow": ["MIT", "Apache-2.0", "BSD-*"]}}

check(licenses) := vs if {
	vs := violation with input as {"components": [component(licenses)]} with data.portcullis.params as allow_params
}

test_inactive_by_default if {
	count(violation) == 0 with input as {"components": [component(["GPL-3.0-only"]), component([])]}
}

test_license_outside_the_list_fires if {
	vs := check(["GPL-3.0-only"])
	count(vs) == 1
	some v in vs
	v.key == "pkg:cargo/some-crate@0.3.1"
	v.message == "pkg:cargo/some-crate@0.3.1 is licensed \"GPL-3.0-only\", which needs a license outside the allow list (GPL-3.0-only)"
	contains(v.remediation, "add GPL-3.0-only to rules.PCL-LIC-002.params.allow")
}

test_allowed_licenses_pass if {
	count(check(["MIT"])) == 0
	count(check(["mit"])) == 0
	count(check(["BSD-3-Clause"])) == 0
	count(check(["MIT OR GPL-3.0-only"])) == 0
	count(check(["(MIT AND Apache-2.0) OR GPL-3.0-only"])) == 0
	count(check(["Apache-2.0 WITH LLVM-exception"])) == 0
}

test_and_needs_every_license_allowed if {
	count(check(["MIT AND GPL-3.0-only"])) == 1
	count(check(["MIT AND (GPL-3.0-only OR LGPL-2.1-only)"])) == 1
}

test_any_satisfiable_declaration_passes if {
	count(check(["GPL-3.0-only", "MIT"])) == 0
	count(check(["NOASSERTION", "MIT"])) == 0
}

test_no_license_fires_unless_allowed if {
	vs := check(["NOASSERTION"])
	count(vs) == 1
	some v in vs
	v.message == "pkg:cargo/some-crate@0.3.1 declares no license (it says \"NOASSERTION\"); the allow list requires one"
	count(check([])) == 1
	vs2 := violation with input as {"components": [component([])]}
		with data.portcullis.params as {"PCL-LIC-002": {"allow": ["MIT"], "allow_unknown": true}}
	count(vs2) == 0
}

test_spdx_none_is_not_unknown if {
	vs := violation with input as {"components": [component(["NONE"])]}
		with data.portcullis.params as {"PCL-LIC-002": {"allow": ["MIT"], "allow_unknown": true}}
	count(vs) == 1
}

test_license_names_with_spaces_are_named_whole if {
	some v in check(["(Apache License 2.0 AND MIT) OR GPL-3.0-or-later WITH Classpath-exception-2.0"])
	contains(v.message, "outside the allow list (Apache License 2.0, GPL-3.0-or-later)")
}

test_unreadable_expression_fires if {
	count(check(["MIT OR (Apache-2.0"])) == 1
}

test_bad_params_reported if {
	vs := violation with input as {"components": []}
		with data.portcullis.params as {"PCL-LIC-002": {"allow": "MIT"}}
	count(vs) == 1
	some v in vs
	v.key == "PCL-LIC-002/params"
}
