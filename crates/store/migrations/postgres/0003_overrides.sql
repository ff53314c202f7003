-- Break-glass overrides: a denied decision let through by an approver, with the reason. The
-- audit entry (kind 'override') is the record; this table lets the admission webhook find it.
CREATE TABLE overrides (
    decision_id TEXT    PRIMARY KEY,
    seq         BIGINT NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    at          TEXT    NOT NULL
);
