-- Portcullis store, PostgreSQL. Keep in step with ../sqlite/0001_init.sql: both backends pass one
-- test suite.

-- The audit chain: append-only, hash = sha256(prev_hash || body_digest).
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    body_digest TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);

-- Signed statements that the chain had `hash` at `seq`.
CREATE TABLE checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       TEXT NOT NULL,
    at         TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL
);

-- Content-addressed documents: evidence, decisions, decision requests, policy bundles,
-- advisories. `digest` is sha256 of the uncompressed bytes.
CREATE TABLE blobs (
    digest      TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    size        BIGINT NOT NULL,
    compression TEXT    NOT NULL,
    content     BYTEA    NOT NULL,
    stored_at   TEXT    NOT NULL
);

CREATE TABLE decisions (
    id              TEXT    PRIMARY KEY,
    seq             BIGINT NOT NULL,
    artifact_name   TEXT    NOT NULL,
    artifact_digest TEXT    NOT NULL,
    environment     TEXT    NOT NULL,
    verdict         TEXT    NOT NULL,
    decided_at      TEXT    NOT NULL,
    decision_digest TEXT    NOT NULL,
    request_digest  TEXT    NOT NULL,
    policy_bundle   TEXT    NOT NULL
);
CREATE INDEX decisions_by_artifact ON decisions (artifact_digest, environment, seq);
CREATE INDEX decisions_by_environment ON decisions (environment, seq);

-- Which evidence documents were offered for which artifact.
CREATE TABLE artifact_evidence (
    artifact_digest TEXT NOT NULL,
    evidence_digest TEXT NOT NULL,
    PRIMARY KEY (artifact_digest, evidence_digest)
);
CREATE INDEX artifact_evidence_by_evidence ON artifact_evidence (evidence_digest);

-- Components of every stored evidence document, by package (purl type, name, namespace).
CREATE TABLE components (
    evidence_digest TEXT NOT NULL,
    purl_type       TEXT NOT NULL,
    namespace       TEXT NOT NULL,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    purl            TEXT NOT NULL
);
CREATE INDEX components_by_package ON components (purl_type, name, namespace);

CREATE TABLE advisories (
    id              TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL,
    digest          TEXT    NOT NULL,
    summary         TEXT    NOT NULL,
    added_at        TEXT    NOT NULL,
    added_by        TEXT    NOT NULL,
    seq             BIGINT NOT NULL,
    withdrawn_at    TEXT,
    withdrawn_by    TEXT,
    withdraw_reason TEXT
);

CREATE TABLE exceptions (
    id            TEXT    PRIMARY KEY,
    body          TEXT    NOT NULL,
    granted_by    TEXT    NOT NULL,
    granted_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL,
    seq           BIGINT NOT NULL,
    revoked_at    TEXT,
    revoked_by    TEXT,
    revoke_reason TEXT,
    expiry_seq    BIGINT
);

-- Every deployment recorded, and what runs where now.
CREATE TABLE deployments (
    seq             BIGINT PRIMARY KEY,
    environment     TEXT NOT NULL,
    artifact_name   TEXT NOT NULL,
    artifact_digest TEXT NOT NULL,
    deployed_at     TEXT NOT NULL,
    deployed_by     TEXT NOT NULL
);
CREATE TABLE inventory (
    environment     TEXT    NOT NULL,
    artifact_name   TEXT    NOT NULL,
    artifact_digest TEXT    NOT NULL,
    deployed_at     TEXT    NOT NULL,
    seq             BIGINT NOT NULL,
    PRIMARY KEY (environment, artifact_name)
);
CREATE INDEX inventory_by_digest ON inventory (artifact_digest);

CREATE TABLE checkpoint_keys (
    key_id     TEXT    PRIMARY KEY,
    public_key TEXT    NOT NULL,
    seq        BIGINT NOT NULL
);
