-- API tokens of the server. Only a digest of each token is kept (sha256 of the token's bytes:
-- tokens are 256-bit random strings, so a fast digest is enough); the token itself is shown
-- once, when it is created.
CREATE TABLE api_tokens (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    digest      TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    revoked_at  TEXT,
    revoked_by  TEXT
);
