-- Summaries the dashboard reads, kept in step with the chain: each decision's audit entry (the
-- record) is summarized when it is appended, in the same transaction, so that the overview
-- counts with GROUP BY over a few hundred counter rows instead of reading decisions. Keep in
-- step with ../sqlite/0004_dashboard.sql.

CREATE TABLE decision_summary (
    seq           BIGINT  PRIMARY KEY,
    decision_id   TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    artifact_name TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    decided_at    TEXT    NOT NULL,
    day           TEXT    NOT NULL,
    pipeline      TEXT,
    stage         TEXT,
    violations    BIGINT  NOT NULL,
    warnings      BIGINT  NOT NULL,
    excepted      BIGINT  NOT NULL
);
CREATE INDEX decision_summary_by_pipeline ON decision_summary (pipeline, stage, seq);
CREATE INDEX decision_summary_by_id ON decision_summary (decision_id);

-- The latest decisions (the overview's list, the dashboard's decision pages) by position in
-- the chain.
CREATE INDEX decisions_by_seq ON decisions (seq);

CREATE TABLE decision_daily (
    day         TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    n           BIGINT  NOT NULL,
    PRIMARY KEY (day, environment, outcome)
);

CREATE TABLE rule_daily (
    day         TEXT    NOT NULL,
    rule        TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    n           BIGINT  NOT NULL,
    PRIMARY KEY (day, rule, environment)
);

INSERT INTO decision_summary (seq, decision_id, environment, artifact_name, outcome, decided_at, day, pipeline, stage, violations, warnings, excepted)
SELECT seq,
       b->>'decision_id',
       b->>'environment',
       COALESCE(b->'artifact'->>'name', ''),
       CASE WHEN b->>'verdict' = 'deny' THEN 'deny'
            WHEN COALESCE((b->'counts'->>'warnings')::bigint, 0) > 0 THEN 'warn'
            ELSE 'allow' END,
       b->>'decided_at',
       substr(b->>'decided_at', 1, 10),
       b->>'pipeline',
       b->>'stage',
       COALESCE((b->'counts'->>'violations')::bigint, 0),
       COALESCE((b->'counts'->>'warnings')::bigint, 0),
       COALESCE((b->'counts'->>'excepted')::bigint, 0)
FROM (SELECT seq, body::jsonb AS b FROM audit_log WHERE kind = 'decision') d;

INSERT INTO decision_daily (day, environment, outcome, n)
SELECT day, environment, outcome, COUNT(*) FROM decision_summary GROUP BY day, environment, outcome;

INSERT INTO rule_daily (day, rule, environment, n)
SELECT substr(b->>'decided_at', 1, 10), r, b->>'environment', COUNT(*)
FROM (SELECT body::jsonb AS b FROM audit_log WHERE kind = 'decision') d,
     jsonb_array_elements_text(COALESCE(b->'violated_rules', '[]'::jsonb)) r
GROUP BY 1, 2, 3;
