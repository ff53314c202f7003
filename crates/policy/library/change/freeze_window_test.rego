package portcullis.rules.change.freeze_window

# 2026-11-27T12:00:00Z, Black Friday.
friday := {"time": "2026-11-27T12:00:00Z", "time_unix": 1795780800}

before := {"time": "2026-11-25T23:59:59Z", "time_unix": 1795651199}

production := {"name": "production", "protected": true, "declared": true, "labels": {}}

dev := {"name": "dev", "protected": false, "declared": true, "labels": {}}

sale := {
	"start": "2026-11-26T00:00:00Z",
	"end": "2026-12-01T00:00:00Z",
	"environments": ["production"],
	"reason": "Black Friday sale",
}

freeze(ws) := {"PCL-CHG-001": {"windows": ws}}

input_at(ctx, env) := {"artifact": {"name": "shop/api", "digest": "sha256:ab"}, "environment": env, "context": ctx}

test_decision_in_a_window_fires if {
	vs := violation with input as input_at(friday, production) with data.portcullis.params as freeze([sale])
	count(vs) == 1
	some v in vs
	v.key == "freeze|2026-11-26T00:00:00Z|2026-12-01T00:00:00Z"
	v.message == "deployments to production are frozen from 2026-11-26T00:00:00Z until 2026-12-01T00:00:00Z: Black Friday sale (decision time 2026-11-27T12:00:00Z)"
}

test_decision_before_the_window_passes if {
	count(violation) == 0 with input as input_at(before, production) with data.portcullis.params as freeze([sale])
}

test_the_end_is_excluded if {
	at_end := {"time": "2026-12-01T00:00:00Z", "time_unix": 1796083200}
	count(violation) == 0 with input as input_at(at_end, production) with data.portcullis.params as freeze([sale])
}

test_other_environments_are_not_frozen if {
	count(violation) == 0 with input as input_at(friday, dev) with data.portcullis.params as freeze([sale])
}

test_star_freezes_every_environment if {
	everywhere := object.union(sale, {"environments": ["*"]})
	count(violation) == 1 with input as input_at(friday, dev) with data.portcullis.params as freeze([everywhere])
}

test_offsets_are_honoured if {
	# 2026-11-27T13:00:00+02:00 is 11:00Z, before the decision at 12:00Z.
	early_end := object.union(sale, {"start": "2026-11-27T00:00:00+02:00", "end": "2026-11-27T13:00:00+02:00"})
	count(violation) == 0 with input as input_at(friday, production) with data.portcullis.params as freeze([early_end])
}

test_no_windows_no_violation if {
	count(violation) == 0 with input as input_at(friday, production)
}

test_a_broken_window_is_reported if {
	bad := {"start": "27.11.2026", "end": "2026-11-01T00:00:00Z", "environments": []}
	vs := violation with input as input_at(before, dev) with data.portcullis.params as freeze([sale, bad])
	count(vs) == 1
	some v in vs
	v.key == "params.windows[1]"
	contains(v.message, "`start` must be an RFC 3339 time")
	contains(v.message, "`environments` must be a non-empty list")
}

test_end_before_start_is_reported if {
	reversed := object.union(sale, {"start": sale.end, "end": sale.start})
	vs := violation with input as input_at(before, dev) with data.portcullis.params as freeze([reversed])
	some v in vs
	contains(v.message, "`end` must be after `start`")
}

test_windows_must_be_a_list if {
	vs := violation with input as input_at(before, dev) with data.portcullis.params as freeze(sale)
	count(vs) == 1
	some v in vs
	v.key == "params.windows"
}
