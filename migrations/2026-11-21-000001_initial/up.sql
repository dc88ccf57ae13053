-- One schema, applied to every region. Ids carry their region prefix, so no region column.
-- Timestamps come from the database: now() is one value per transaction.

CREATE TABLE users (
    id                text PRIMARY KEY,
    -- Stored normalised (trimmed, lower case) so uniqueness is case-insensitive.
    email             text NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash     text NOT NULL,
    role              text NOT NULL CHECK (role IN ('customer', 'staff', 'admin')),
    full_name         text NOT NULL,
    phone             text,
    location          text,
    age               integer CHECK (age BETWEEN 0 AND 150),
    personal_group_id text NOT NULL,
    created_on        timestamptz NOT NULL DEFAULT now(),
    updated_on        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    location   text NOT NULL,
    -- The last line of defence: the application never lets a balance go negative.
    points     bigint NOT NULL DEFAULT 0 CHECK (points >= 0),
    -- Set for a user's personal group, which that user cannot leave.
    personal_of text,
    created_on timestamptz NOT NULL DEFAULT now(),
    updated_on timestamptz NOT NULL DEFAULT now()
);

-- Authoritative membership, kept in the group's region. A row is never deleted:
-- leaving flips `active` and bumps `version`, so the derived index in the member's home
-- region can apply join/leave events in any order (last writer by version wins).
-- user_id has no foreign key: members may live in other regions.
CREATE TABLE group_members (
    group_id   text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    text NOT NULL,
    active     boolean NOT NULL,
    version    bigint NOT NULL CHECK (version > 0),
    joined_on  timestamptz NOT NULL DEFAULT now(),
    updated_on timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id) WHERE active;

-- Derived index in the user's home region: which groups (of any region) the user is in.
-- Eventually consistent for groups of other regions; never used for authorization.
CREATE TABLE user_group_index (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id   text NOT NULL,
    active     boolean NOT NULL,
    version    bigint NOT NULL,
    updated_on timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE ledger_entries (
    id              text PRIMARY KEY,
    group_id        text NOT NULL REFERENCES groups (id),
    user_id         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('award', 'redeem')),
    points          bigint NOT NULL,
    amount_cents    bigint CHECK (amount_cents >= 0),
    store_region    text,
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    idempotency_key text NOT NULL,
    created_on      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'award' AND points >= 0) OR (kind = 'redeem' AND points < 0))
);
-- Keyset pagination, newest first.
CREATE INDEX ledger_entries_by_group ON ledger_entries (group_id, created_on DESC, id DESC);

-- One row per (caller, key): written in the same transaction as the effect it records,
-- so a request is either applied and remembered, or neither.
CREATE TABLE idempotency_records (
    caller_id       text NOT NULL,
    key             text NOT NULL,
    -- sha256 of method, path and canonical body: a reused key with another body is refused.
    fingerprint     text NOT NULL,
    response_status smallint NOT NULL,
    response_body   jsonb NOT NULL,
    created_on      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller_id, key)
);
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_on);

CREATE TABLE catalogue_items (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    category     text NOT NULL,
    price_cents  bigint NOT NULL CHECK (price_cents >= 0),
    points_price bigint NOT NULL CHECK (points_price > 0),
    available    boolean NOT NULL DEFAULT true,
    created_on   timestamptz NOT NULL DEFAULT now(),
    updated_on   timestamptz NOT NULL DEFAULT now()
);

-- Events for other regions, written in the same transaction as the change they announce
-- and drained by a relay that retries until the receiving region acknowledges.
CREATE TABLE outbox (
    id                 bigserial PRIMARY KEY,
    destination_region text NOT NULL,
    kind               text NOT NULL,
    payload            jsonb NOT NULL,
    attempts           integer NOT NULL DEFAULT 0,
    created_on         timestamptz NOT NULL DEFAULT now(),
    delivered_on       timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_on IS NULL;
