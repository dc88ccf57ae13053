-- Revoked bearer tokens of this region's users, kept until the tokens they name have
-- expired. A row names one token (`jti`: a logout) or every token of the user issued
-- before `not_before` (a role change, "log out everywhere"). Every API instance of every
-- region follows this table by `seq` (services::revocations) and refuses what it lists.
CREATE TABLE token_revocations (
    seq bigserial PRIMARY KEY,
    user_id text NOT NULL,
    jti text,
    not_before timestamptz,
    expires_at timestamptz NOT NULL,
    created_on timestamptz NOT NULL DEFAULT now(),
    CHECK ((jti IS NULL) <> (not_before IS NULL))
);
CREATE INDEX token_revocations_expiry ON token_revocations (expires_at);
