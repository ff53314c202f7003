# Helpers shared by the rules of the built-in library. Users' policies may import them too.
package portcullis.lib

# Severity order. `unknown` ranks lowest for thresholds, but rules that should not let an
# unrated finding through check for it on their own (see `params.include_unknown`).
severity_rank := {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1, "unknown": 0}

# at_least(s, min): severity s is at least min.
at_least(s, min) if severity_rank[s] >= severity_rank[min]

# params(meta): the rule's parameter defaults overridden by portcullis.yaml
# (`data.portcullis.params[<rule id>]`).
params(meta) := object.union(meta.params, object.get(data, ["portcullis", "params", meta.id], {}))

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
