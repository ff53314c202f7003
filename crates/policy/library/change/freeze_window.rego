# Change freezes: periods (a peak sale, the year-end close, an audit) during which nothing is
# deployed to some environments. Each window is [start, end): a decision at `end` is allowed.
# A window that cannot be read is reported rather than skipped: a freeze that silently does
# not apply is worse than a configuration error.
package portcullis.rules.change.freeze_window

import data.portcullis.lib

metadata := {
	"id": "PCL-CHG-001",
	"title": "Deployment during a change freeze",
	"description": "The decision time falls in a change-freeze window that names this environment. Windows are `{start, end, environments, reason}`: RFC 3339 times, a list of environment names or globs (\"*\" for all) and why.",
	"category": "business",
	"severity": "medium",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {
		"nist-800-53": ["CM-3", "CM-3(1)"],
		"hipaa": [],
		"slsa": [],
	},
	"remediation": "Deploy after the freeze ends, or, for an emergency change, get a time-boxed exception for PCL-CHG-001 approved.",
	"params": {"windows": []},
}

params := lib.params(metadata)

windows := params.windows

# The windows, when the parameter is a list (otherwise it is reported below).
listed := windows if is_array(windows) else := []

rfc3339 := `^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$`

is_time(s) if {
	is_string(s)
	regex.match(rfc3339, s)
}

# problem contains [index, what is wrong] for every window that cannot be applied.
problem contains [i, "it is not an object {start, end, environments, reason}"] if {
	some i, w in listed
	not is_object(w)
}

problem contains [i, sprintf("`%s` must be an RFC 3339 time such as 2026-12-24T00:00:00Z", [field])] if {
	some i, w in listed
	is_object(w)
	some field in ["start", "end"]
	not is_time(object.get(w, field, null))
}

problem contains [i, "`end` must be after `start`"] if {
	some i, w in listed
	is_object(w)
	is_time(object.get(w, "start", null))
	is_time(object.get(w, "end", null))
	time.parse_rfc3339_ns(w.end) <= time.parse_rfc3339_ns(w.start)
}

problem contains [i, "`environments` must be a non-empty list of environment names or globs (\"*\" for all)"] if {
	some i, w in listed
	is_object(w)
	not is_env_list(object.get(w, "environments", null))
}

problem contains [i, "`reason` must be a string"] if {
	some i, w in listed
	is_object(w)
	not is_string(object.get(w, "reason", ""))
}

is_env_list(x) if {
	is_array(x)
	count(x) > 0
	every e in x {
		is_string(e)
	}
}

broken contains i if some [i, _] in problem

violation contains v if {
	some i, w in listed
	not i in broken
	applies(w.environments)
	now := input.context.time_unix * 1000000000
	time.parse_rfc3339_ns(w.start) <= now
	now < time.parse_rfc3339_ns(w.end)
	v := {
		"key": sprintf("freeze|%s|%s", [w.start, w.end]),
		"message": sprintf("deployments to %s are frozen from %s until %s: %s (decision time %s)", [
			input.environment.name, w.start, w.end, reason(w), input.context.time,
		]),
		"evidence_refs": [],
		"remediation": sprintf("Deploy %s after %s, or get a time-boxed exception for PCL-CHG-001 approved for this emergency change.", [input.artifact.name, w.end]),
	}
}

violation contains v if {
	some i in broken
	v := {
		"key": sprintf("params.windows[%d]", [i]),
		"message": sprintf("change-freeze window %d of PCL-CHG-001 cannot be applied: %s; a freeze that cannot be read is not skipped (fail-closed)", [
			i, concat("; ", sort({what | some [j, what] in problem; j == i})),
		]),
		"evidence_refs": [],
		"remediation": "Fix the window in portcullis.yaml (rules: {PCL-CHG-001: {params: {windows: [{start, end, environments, reason}]}}}).",
	}
}

violation contains v if {
	not is_array(windows)
	v := {
		"key": "params.windows",
		"message": sprintf("parameter windows of PCL-CHG-001 must be a list of freeze windows, not %v (fail-closed)", [windows]),
		"evidence_refs": [],
		"remediation": "Write windows as a list of {start, end, environments, reason} in portcullis.yaml.",
	}
}

applies(environments) if {
	some p in environments
	glob.match(p, null, input.environment.name)
}

reason(w) := r if {
	r := object.get(w, "reason", "")
	r != ""
} else := "no reason given"
