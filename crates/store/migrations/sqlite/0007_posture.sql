-- The posture of what runs and the snapshots of each environment (issue 19). Keep in step with
-- ../postgres/0007_posture.sql.

-- Per (environment, artifact name) that runs: the state its latest decision there gives it and
-- since when. Written only with a 'posture.changed' audit entry (the record); removed with the
-- artifact ('deployment.removed').
CREATE TABLE posture (
    environment     TEXT    NOT NULL,
    artifact_name   TEXT    NOT NULL,
    artifact_digest TEXT    NOT NULL,
    -- compliant | violation | undecided (no decision about this digest in this environment)
    state           TEXT    NOT NULL,
    -- the rule ids that deny it (JSON array; empty unless in violation)
    rules           TEXT    NOT NULL,
    -- when it entered this state (kept while only the rules change)
    since           TEXT    NOT NULL,
    -- the decision that put it in this state, when there is one
    decision_id     TEXT,
    changed_at      TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (environment, artifact_name)
);
CREATE INDEX posture_by_state ON posture (state, environment);

-- Each change of what runs in an environment: the whole running set after it, with the decision
-- each artifact ran under. The audit entry ('environment.snapshot') is the record.
CREATE TABLE snapshots (
    seq         INTEGER PRIMARY KEY,
    environment TEXT    NOT NULL,
    taken_at    TEXT    NOT NULL,
    -- the entry kinds of the changes it follows (deployment.recorded, deployment.removed, …)
    cause       TEXT    NOT NULL,
    -- JSON array of {name, digest, decision_id, verdict, deployed_at}
    artifacts   TEXT    NOT NULL
);
CREATE INDEX snapshots_by_environment ON snapshots (environment, seq);

-- Deployments are looked up by environment and time for snapshots and watches.
CREATE INDEX deployments_by_environment ON deployments (environment, seq);

-- The newest entry of a kind (re-judging reconciles against the newest advisory and exception
-- changes).
CREATE INDEX IF NOT EXISTS audit_log_by_kind ON audit_log (kind, seq);
