package portcullis.rules.component.component_denied

event_stream := {
	"key": "pkg:npm/event-stream@3.3.6",
	"purl": "pkg:npm/event-stream@3.3.6",
	"name": "event-stream",
	"version": "3.3.6",
	"ecosystem": "npm",
	"licenses": ["MIT"],
	"sources": ["sha256:11"],
}

log4j := {
	"key": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
	"purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
	"name": "log4j-core",
	"version": "2.14.1",
	"ecosystem": "maven",
	"licenses": ["Apache-2.0"],
	"sources": ["sha256:12"],
}

deny(entries, reasons) := {"PCL-COMP-001": {"deny": entries, "reasons": reasons}}

check(entries, c) := vs if {
	vs := violation with input as {"components": [c]} with data.portcullis.params as deny(entries, {})
}

test_empty_list_by_default if {
	count(violation) == 0 with input as {"components": [event_stream, log4j]}
}

test_exact_purl_with_reason_fires if {
	vs := violation with input as {"components": [event_stream, log4j]}
		with data.portcullis.params as deny(["pkg:npm/event-stream@3.3.6"], {"pkg:npm/event-stream@3.3.6": "flatmap-stream backdoor"})
	count(vs) == 1
	some v in vs
	v.key == "pkg:npm/event-stream@3.3.6"
	v.message == "pkg:npm/event-stream@3.3.6 is on the component deny list (pkg:npm/event-stream@3.3.6: flatmap-stream backdoor)"
	v.evidence_refs == [{"component": "pkg:npm/event-stream@3.3.6"}]
}

test_without_version_matches_every_version if {
	count(check(["pkg:npm/event-stream"], event_stream)) == 1
	count(check(["pkg:maven/org.apache.logging.log4j/log4j-core"], log4j)) == 1
}

test_qualifiers_are_ignored_and_versions_globbed if {
	count(check(["pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"], log4j)) == 1
	count(check(["pkg:maven/org.apache.logging.log4j/log4j-core@2.1*"], log4j)) == 1
	count(check(["pkg:maven/org.apache.logging.log4j/log4j-core@2.17.*"], log4j)) == 0
}

test_star_does_not_cross_slash if {
	count(check(["pkg:maven/*"], log4j)) == 0
	count(check(["pkg:maven/**"], log4j)) == 1
	count(check(["pkg:maven/org.apache.logging.log4j/*"], log4j)) == 1
}

test_other_components_do_not_fire if {
	count(check(["pkg:npm/event-stream"], log4j)) == 0
	count(check(["pkg:npm/event-stream-extra"], event_stream)) == 0
}

test_component_without_purl_is_not_matched if {
	c := object.union(event_stream, {"purl": null, "key": "event-stream@3.3.6"})
	count(check(["**"], c)) == 0
}

test_several_entries_are_listed if {
	vs := check(["pkg:npm/event-stream", "pkg:npm/*@3.3.6"], event_stream)
	count(vs) == 1
	some v in vs
	v.message == "pkg:npm/event-stream@3.3.6 is on the component deny list (pkg:npm/*@3.3.6; pkg:npm/event-stream)"
}

test_bad_params_reported if {
	vs := violation with input as {"components": [event_stream]}
		with data.portcullis.params as {"PCL-COMP-001": {"deny": "pkg:npm/event-stream"}}
	count(vs) == 1
	some v in vs
	v.key == "PCL-COMP-001/params"
}
