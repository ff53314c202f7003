-- The package index of a new SBOM is written after the chain commit, in transactions of its own
-- (issue 21): the chain commit stores the component rows here, the indexer moves them into
-- `components` a slice at a time and deletes the row when the last slice is in. A row left here
-- (the process stopped in between) is indexed when a store opens, and `deployed_with_package`
-- indexes whatever is left before it answers. Keep in step with
-- ../sqlite/0008_pending_components.sql.
CREATE TABLE pending_components (
    evidence_digest TEXT    PRIMARY KEY,
    -- the rows, a JSON array of [purl_type, namespace, name, version, purl], zstd-compressed
    rows            BYTEA   NOT NULL,
    -- how many of them are in `components` already
    done            BIGINT  NOT NULL DEFAULT 0
);
