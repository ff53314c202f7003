-- Approvals and recorded facts (issue 17). Keep in step with ../postgres/0005_approvals.sql.

-- Approvals of one artifact digest for one environment (and change, when given), granted by an
-- identity the firewall authenticated (an approver token) or by a signed approval attestation.
-- The audit entry ('approval.granted', 'approval.revoked') is the record; this table is what the
-- decision service reads.
CREATE TABLE approvals (
    id              TEXT    PRIMARY KEY,
    seq             INTEGER NOT NULL,
    artifact_digest TEXT    NOT NULL,
    environment     TEXT    NOT NULL,
    change_ref      TEXT,
    approver        TEXT    NOT NULL,
    -- authenticated (a token of role approver or admin) | signed (a trusted key's attestation)
    source          TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    granted_at      TEXT    NOT NULL,
    expires_at      TEXT    NOT NULL,
    revoked_at      TEXT,
    revoked_by      TEXT,
    revoke_reason   TEXT,
    revoke_seq      INTEGER
);
CREATE INDEX approvals_by_artifact ON approvals (artifact_digest, environment);

-- Verification (canary) and exposure results recorded by the firewall's own runs
-- ('portcullis verify … --record', 'portcullis probe … --record', the API), or signed by a trusted
-- key. The audit entry ('fact.recorded') is the record.
CREATE TABLE recorded_facts (
    id              TEXT    PRIMARY KEY,
    seq             INTEGER NOT NULL,
    -- verification | exposure
    kind            TEXT    NOT NULL,
    artifact_digest TEXT    NOT NULL,
    environment     TEXT    NOT NULL,
    -- the fact as the policy input carries it (JSON)
    body            TEXT    NOT NULL,
    -- recorded | signed
    source          TEXT    NOT NULL,
    recorded_by     TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL
);
CREATE INDEX recorded_facts_by_artifact ON recorded_facts (artifact_digest, environment);
