# Helpers shared by the rules of the built-in library. Users' policies may import them too.
package portcullis.lib

# Severity order. `unknown` ranks lowest for thresholds, but rules that should not let an
# unrated finding through check for it on their own (see `params.include_unknown`).
severity_rank := {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1, "unknown": 0}

# at_least(s, min): severity s is at least min.
at_least(s, min) if severity_rank[s] >= severity_rank[min]

# params(meta): the rule's parameter defaults overridden by portcullis.yaml
# (`data.portcullis.params[<rule id>]`).
# The overrides are read at their own path, never through `object.get(data, …)`: reading
# `data` whole makes the engine evaluate every rule of the bundle, so one rule's error would
# surface in every rule that reads its parameters (and cost the time of all of them).
params(meta) := object.union(meta.params, overrides) if {
	overrides := data.portcullis.params[meta.id]
} else := meta.params

# VEX states that settle a finding (the producer states it does not apply).
vex_settled := {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}

# settled(f): a VEX statement says f does not apply, or the tool suppressed it.
settled(f) if f.vex_state in vex_settled

settled(f) if f.suppressed != null

# A component's display name: purl when known, else name@version.
component_label(c) := c.purl if c.purl != null

component_label(c) := sprintf("%s@%s", [c.name, c.version]) if {
	c.purl == null
	c.version != null
}

component_label(c) := c.name if {
	c.purl == null
	c.version == null
}

# Days between two Unix times.
days_between(from_unix, to_unix) := (to_unix - from_unix) / 86400

# glob_any(patterns, s): s matches one of the glob patterns (`*` does not cross `/`; `**` does).
glob_any(patterns, s) if {
	some p in patterns
	glob.match(p, ["/"], s)
}

# ---------------------------------------------------------------------------------------------
# Findings, parameters and licenses (shared by the vuln, code, iac, license and component rules).

# is_severity(s): s is one of the severity words.
is_severity(s) if s in object.keys(severity_rank)

# The severity words, for messages.
severity_words := "critical, high, medium, low, info, unknown"

# param_violation(meta, message): a parameter the rule cannot use. A misspelt threshold must
# not quietly switch a rule off, so the rule reports it (and fails closed where it enforces).
param_violation(meta, message) := {
	"key": sprintf("%s/params", [meta.id]),
	"message": message,
	"severity": "high",
	"remediation": sprintf("Correct rules.%s.params in portcullis.yaml (`portcullis policy list` shows each parameter and its default).", [meta.id]),
}

# upper_set(list): the strings of a list, upper-cased (compute it once per rule, not per item).
upper_set(list) := {upper(x) | some x in list}

# matches_check(f, checks): the finding's id, rule id or one of its aliases is in `checks`, an
# `upper_set` of check ids (so ids match without regard to case).
matches_check(f, checks) if upper(f.id) in checks

matches_check(f, checks) if {
	f.rule_id != null
	upper(f.rule_id) in checks
}

matches_check(f, checks) if {
	some a in f.aliases
	upper(a) in checks
}

# finding_tools(f): the tools that reported f, for messages. Real inputs carry it computed
# (`tools`); the fallbacks serve hand-written inputs (tests, users' own callers).
finding_tools(f) := f.tools if {
	f.tools != ""
} else := concat(", ", sort({s.tool | some s in f.sources})) if {
	count(f.sources) > 0
} else := "a scanner"

# finding_place(f): where a finding is: resource and file:line, endpoint, or component.
finding_place(f) := location_label(f.location) if {
	f.location != null
} else := endpoint_label(f.endpoint) if {
	f.endpoint != null
} else := finding_component(f) if {
	f.component != null
} else := "an unstated location"

location_label(l) := concat(" in ", parts) if {
	parts := [x | some x in [l.resource, file_line(l)]; x != null; x != ""]
	count(parts) > 0
} else := "an unstated location"

file_line(l) := sprintf("%s:%v", [l.path, l.line]) if {
	l.path != ""
	l.line != null
} else := l.path

endpoint_label(e) := concat(" ", [x | some x in [e.method, e.url, param_label(e.param)]; x != null; x != ""])

param_label(p) := sprintf("(parameter %s)", [p]) if {
	p != null
	p != ""
} else := ""

# finding_component(f): "name version" of the component a finding is about.
finding_component(f) := f.component_label if {
	is_string(f.component_label)
} else := sprintf("%s %s", [f.component.name, f.component.version]) if {
	f.component != null
	f.component.version != null
} else := f.component.name if {
	f.component != null
} else := "an unnamed component"

# vulnerability_label(f): the id with its aliases, e.g. "CVE-2021-44228 (GHSA-jfh8-c2jp-5v3q)".
vulnerability_label(f) := f.label if {
	is_string(f.label)
	f.label != ""
} else := f.id if {
	count(f.aliases) == 0
} else := sprintf("%s (%s)", [f.id, concat(", ", f.aliases)])

# upgrade_remediation(f): the fix for a vulnerable component: `fix_version` (the lowest reported
# fix above the installed version, ordered in Rust) when known; otherwise, since Rego never
# orders versions, the first reported fixed version, listing all when there are several.
upgrade_remediation(f) := sprintf("Upgrade %s to %s or later.", [component_name(f), f.fix_version]) if {
	# The lowest fix above the installed version, ordered in Rust by the ecosystem's rules.
	f.fix_version != null
} else := sprintf("Upgrade %s to %s or later.", [component_name(f), f.fixed_versions[0]]) if {
	count(f.fixed_versions) == 1
} else := sprintf("Upgrade %s to %s or later (fixed versions reported: %s; a lower one on your release line may suffice).", [component_name(f), f.fixed_versions[0], concat(", ", f.fixed_versions)]) if {
	count(f.fixed_versions) > 1
} else := sprintf("Upgrade %s to a fixed version (the scanner states a fix exists but names no version).", [component_name(f)]) if {
	f.fix_available
} else := sprintf("No fixed version of %s is known: remove or replace it, or mitigate as the advisory describes.", [component_name(f)])

component_name(f) := f.component.name if f.component != null

component_name(f) := f.id if f.component == null

# License expressions (SPDX: `A OR B`, `A AND B`, `A WITH exception`, parentheses; operators
# in any case). `license_blocked(expr, pats, mode)` is true when no way of satisfying the
# expression avoids a bad license: in mode "deny" a license is bad when it matches one of the
# patterns, in mode "allow" when it matches none. `pats` is `license_patterns(list)`: SPDX ids
# or globs, compared without regard to case. Parentheses are reduced innermost first, up to
# six levels deep; a deeper or unbalanced expression is reported by `license_unreadable`.
# A single id (the common case) takes no regular expression at all.
license_patterns(list) := {
	"exact": {upper(p) | some p in list; not regex.match(`[*?\[{]`, p)},
	"globs": [upper(p) | some p in list; regex.match(`[*?\[{]`, p)],
}

license_blocked(expr, pats, mode) if {
	not license_has_paren(expr)
	license_flat_blocked(expr, pats, mode)
}

license_blocked(expr, pats, mode) if {
	license_has_paren(expr)
	r := license_reduced(expr, pats, mode)
	not license_has_paren(r)
	license_flat_blocked(r, pats, mode)
}

license_unreadable(expr, pats, mode) if {
	license_has_paren(expr)
	license_has_paren(license_reduced(expr, pats, mode))
}

license_has_paren(s) if contains(s, "(")

license_has_paren(s) if contains(s, ")")

license_has_space(s) if contains(s, " ")

license_has_space(s) if contains(s, "\t")

license_has_space(s) if contains(s, "\n")

license_reduced(expr, pats, mode) := r if {
	r1 := license_reduce(trim_space(expr), pats, mode)
	r2 := license_reduce(r1, pats, mode)
	r3 := license_reduce(r2, pats, mode)
	r4 := license_reduce(r3, pats, mode)
	r5 := license_reduce(r4, pats, mode)
	r := license_reduce(r5, pats, mode)
}

# One level: every innermost group becomes the token __BAD__ or __OK__.
license_reduce(s, pats, mode) := strings.replace_n(
	{g: license_token(g, pats, mode) | some g in regex.find_n(`\([^()]*\)`, s, -1)},
	s,
)

license_token(g, pats, mode) := " __BAD__ " if {
	license_flat_blocked(trim(g, "()"), pats, mode)
} else := " __OK__ "

license_flat_blocked(s, pats, mode) if {
	t := trim_space(s)
	not license_has_space(t)
	license_term_bad(t, pats, mode)
}

license_flat_blocked(s, pats, mode) if {
	t := trim_space(s)
	license_has_space(t)
	every alt in regex.split(`(?i)\s+OR\s+`, t) {
		license_alternative_blocked(alt, pats, mode)
	}
}

license_alternative_blocked(alt, pats, mode) if {
	some term in regex.split(`(?i)\s+AND\s+`, trim_space(alt))
	license_term_bad(license_term_id(term), pats, mode)
}

# The license of a term, without its `WITH exception`.
license_term_id(term) := trim_space(regex.split(`(?i)\s+WITH\s+`, trim_space(term))[0])

license_term_bad(id, _, _) if id == "__BAD__"

license_term_bad(id, pats, "deny") if {
	not id in {"__OK__", "__BAD__"}
	license_matches(id, pats)
}

license_term_bad(id, pats, "allow") if {
	not id in {"__OK__", "__BAD__"}
	not license_matches(id, pats)
}

# license_matches(id, pats): the id, or the id without a trailing `+` (or later), is one of
# the patterns, ignoring case (`*` in a glob matches any characters).
license_matches(id, pats) if upper(id) in pats.exact

license_matches(id, pats) if upper(trim_suffix(id, "+")) in pats.exact

license_matches(id, pats) if {
	some g in pats.globs
	some candidate in {upper(id), upper(trim_suffix(id, "+"))}
	glob.match(g, null, candidate)
}

# license_ids(expr): the licenses an expression names, without operators, exceptions and
# parentheses (a license name with spaces, "Apache License 2.0", stays whole).
license_ids(expr) := {id |
	padded := strings.replace_n({"(": " ( ", ")": " ) "}, regex.replace(expr, `(?i)\s+WITH\s+[^\s()]+`, ""))
	some piece in regex.split(`(?i)\s+(?:AND|OR)\s+|\s*[()]`, padded)
	id := trim_space(piece)
	id != ""
}

# license_unknown(l): a declaration that says nothing about the license. (SPDX `NONE` says
# something: that there is no license; it is not unknown.)
license_unknown(l) if upper(trim_space(l)) in {"", "NOASSERTION", "UNKNOWN"}

# ---------------------------------------------------------------------------------------------
# Where facts came from (`source`: firewall, recorded, signed, authenticated or asserted).

# established(f): the firewall established fact f; the request did not merely assert it.
established(f) if f.source != "asserted"

# counts(f): fact f may satisfy a rule in this environment: established, or asserted where the
# environment accepts asserted facts (`accept_asserted_facts`; never by default where protected).
counts(f) if established(f)

counts(f) if input.environment.accepts_asserted == true
