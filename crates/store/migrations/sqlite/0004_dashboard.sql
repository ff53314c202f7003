-- Summaries the dashboard reads, kept in step with the chain: each decision's audit entry (the
-- record) is summarized when it is appended, in the same transaction, so that the overview
-- counts with GROUP BY over a few hundred counter rows instead of reading decisions. Keep in
-- step with ../postgres/0004_dashboard.sql.

-- One row per decision: what the environments and pipelines pages group by.
CREATE TABLE decision_summary (
    seq           INTEGER PRIMARY KEY,
    decision_id   TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    artifact_name TEXT    NOT NULL,
    -- allow | warn (allowed with warnings) | deny
    outcome       TEXT    NOT NULL,
    decided_at    TEXT    NOT NULL,
    day           TEXT    NOT NULL,
    pipeline      TEXT,
    stage         TEXT,
    violations    INTEGER NOT NULL,
    warnings      INTEGER NOT NULL,
    excepted      INTEGER NOT NULL
);
CREATE INDEX decision_summary_by_pipeline ON decision_summary (pipeline, stage, seq);
CREATE INDEX decision_summary_by_id ON decision_summary (decision_id);

-- The latest decisions (the overview's list, the dashboard's decision pages) by position in
-- the chain.
CREATE INDEX decisions_by_seq ON decisions (seq);

-- Decisions per day, environment and outcome.
CREATE TABLE decision_daily (
    day         TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (day, environment, outcome)
);

-- Enforced violations per day, rule and environment.
CREATE TABLE rule_daily (
    day         TEXT    NOT NULL,
    rule        TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (day, rule, environment)
);

-- The decisions recorded before this migration.
INSERT INTO decision_summary (seq, decision_id, environment, artifact_name, outcome, decided_at, day, pipeline, stage, violations, warnings, excepted)
SELECT seq,
       json_extract(body, '$.decision_id'),
       json_extract(body, '$.environment'),
       COALESCE(json_extract(body, '$.artifact.name'), ''),
       CASE WHEN json_extract(body, '$.verdict') = 'deny' THEN 'deny'
            WHEN COALESCE(json_extract(body, '$.counts.warnings'), 0) > 0 THEN 'warn'
            ELSE 'allow' END,
       json_extract(body, '$.decided_at'),
       substr(json_extract(body, '$.decided_at'), 1, 10),
       json_extract(body, '$.pipeline'),
       json_extract(body, '$.stage'),
       COALESCE(json_extract(body, '$.counts.violations'), 0),
       COALESCE(json_extract(body, '$.counts.warnings'), 0),
       COALESCE(json_extract(body, '$.counts.excepted'), 0)
FROM audit_log WHERE kind = 'decision';

INSERT INTO decision_daily (day, environment, outcome, n)
SELECT day, environment, outcome, COUNT(*) FROM decision_summary GROUP BY day, environment, outcome;

INSERT INTO rule_daily (day, rule, environment, n)
SELECT substr(json_extract(a.body, '$.decided_at'), 1, 10), r.value, json_extract(a.body, '$.environment'), COUNT(*)
FROM audit_log a, json_each(json_extract(a.body, '$.violated_rules')) r
WHERE a.kind = 'decision'
GROUP BY 1, 2, 3;
