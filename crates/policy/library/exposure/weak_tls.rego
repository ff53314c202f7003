# TLS 1.0 and 1.1 are deprecated (RFC 8996) and SSL is broken; NIST SP 800-52r2 requires TLS 1.2
# or later. Versions are ranked through an ordered list, never compared as strings, and every
# spelling tools use is recognized ("TLSv1.2", "TLS 1.2", "tls1_2", "TLSv1", "SSLv3"). When the
# observation lists several versions (those the server accepts), the lowest one counts.
package portcullis.rules.exposure.weak_tls

import data.portcullis.lib

metadata := {
	"id": "PCL-EXPO-002",
	"title": "TLS below the minimum version",
	"description": "A TLS exposure check observed a protocol version below `min_version` (default TLSv1.2), a version its declaration does not allow (deviation), or no recognizable TLS version where one was expected (for example a plaintext listener).",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-8", "SC-8(1)", "SC-13"],
		"hipaa": ["164.312(e)(1)", "164.312(e)(2)(ii)"],
		"slsa": [],
	},
	"remediation": "Disable the old protocol versions on the listener (server, ingress or load balancer TLS policy) so that only TLS 1.2 and later are offered.",
	"params": {"min_version": "TLSv1.2"},
}

params := lib.params(metadata)

# Protocol versions, oldest first.
tls_order := ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

version_pattern := `(?i)\b(ssl|tls)[ _-]?v?[ ]?([0-9])(?:[._]([0-9]))?`

# ranks(s): the positions in tls_order of every protocol version named in s.
ranks(s) := {i |
	some m in regex.find_all_string_submatch_n(version_pattern, s, -1)
	name := canonical(lower(m[1]), m[2], m[3])
	some i, x in tls_order
	x == name
}

canonical("ssl", major, _) := sprintf("SSLv%s", [major])

canonical("tls", major, "") := sprintf("TLSv%s.0", [major])

canonical("tls", major, minor) := sprintf("TLSv%s.%s", [major, minor]) if minor != ""

min_rank := r if {
	is_string(params.min_version)
	found := ranks(params.min_version)
	count(found) == 1
	some r in found
}

observed_ranks(e) := ranks(e.observed) if e.observed != null

observed_ranks(e) := set() if e.observed == null

tls_checks := [e | some e in input.exposures; lower(e.check) == "tls"]

violation contains v if {
	some e in tls_checks
	found := observed_ranks(e)
	count(found) > 0
	min(found) < min_rank
	v := {
		"key": sprintf("%s|tls", [e.target]),
		"message": sprintf("%s accepts %s, below the minimum %s (%s)", [
			e.target, tls_order[min(found)], tls_order[min_rank], e.message,
		]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
		"remediation": sprintf("Disable %s and older on %s so that only %s and later are offered.", [
			tls_order[min(found)], e.target, tls_order[min_rank],
		]),
	}
}

# A declaration stricter than the library's minimum (e.g. Mozilla modern: TLS 1.3 only) that the
# probe found violated: the versions seen are above `min_version` but not what was declared.
violation contains v if {
	some e in tls_checks
	e.deviation == true
	found := observed_ranks(e)
	count(found) > 0
	min(found) >= min_rank
	v := {
		"key": sprintf("%s|tls", [e.target]),
		"message": sprintf("%s accepts %s, which the declaration %q does not allow (%s)", [
			e.target, tls_order[min(found)], observed_text_expected(e), e.message,
		]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
	}
}

observed_text_expected(e) := e.expected if e.expected != null

observed_text_expected(e) := "nothing" if e.expected == null

# No version recognized in a check about versions: plaintext, a failed handshake, or a form we
# cannot read. Either way the minimum is not shown to hold.
violation contains v if {
	some e in tls_checks
	count(observed_ranks(e)) == 0
	about_versions(e)
	v := {
		"key": sprintf("%s|tls", [e.target]),
		"message": sprintf("%s: no TLS protocol version could be recognized in the observation (%s), so %s or later is not shown (%s)", [
			e.target, observed_text(e), params.min_version, e.message,
		]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
	}
}

about_versions(e) if e.expected == null

about_versions(e) if {
	e.expected != null
	count(ranks(e.expected)) > 0
}

observed_text(e) := sprintf("observed %q", [e.observed]) if e.observed != null

observed_text(e) := "nothing observed" if e.observed == null

violation contains v if {
	not min_rank
	v := {
		"key": "params.min_version",
		"message": sprintf("parameter min_version of PCL-EXPO-002 must be one TLS version of %s, not %v: the check cannot run (fail-closed)", [concat(", ", tls_order), params.min_version]),
		"evidence_refs": [],
		"remediation": "Set min_version of PCL-EXPO-002 to a version such as \"TLSv1.2\" in portcullis.yaml.",
	}
}
