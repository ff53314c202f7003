-- Entry hash format 2 (every column of an entry covered) and the tables checked against the
-- chain. Keep in step with ../postgres/0006_chain_v2.sql.

-- The entry hash format of the chain: 1 until the store, at open, verified the format-1 chain
-- and re-hashed it (recording a `chain.migrated` entry); a new store starts in format 2.
CREATE TABLE chain_format (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO chain_format (id, version)
SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM audit_log) THEN 1 ELSE 2 END;

-- The hash format a checkpoint pins (those signed before the migration stay format 1).
ALTER TABLE checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- The audit entry of each revocation or withdrawal, so that the row can be checked against it.
ALTER TABLE exceptions ADD COLUMN revoked_seq INTEGER;
ALTER TABLE api_tokens ADD COLUMN revoked_seq INTEGER;
ALTER TABLE advisories ADD COLUMN withdrawn_seq INTEGER;

UPDATE exceptions SET revoked_seq = (
    SELECT MIN(seq) FROM audit_log
    WHERE kind = 'exception.revoked' AND json_extract(body, '$.exception_id') = exceptions.id)
WHERE revoked_at IS NOT NULL;
UPDATE api_tokens SET revoked_seq = (
    SELECT MIN(seq) FROM audit_log
    WHERE kind = 'token.revoked' AND json_extract(body, '$.token_id') = api_tokens.id)
WHERE revoked_at IS NOT NULL;
UPDATE advisories SET withdrawn_seq = (
    SELECT MIN(seq) FROM audit_log
    WHERE kind = 'advisory.withdrawn' AND json_extract(body, '$.advisory_id') = advisories.id)
WHERE withdrawn_at IS NOT NULL;
