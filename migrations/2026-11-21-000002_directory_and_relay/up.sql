-- The relay retries undelivered events with backoff; claiming a batch pushes
-- next_attempt_at forward so concurrent relays (several instances) skip it.
ALTER TABLE outbox ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_on IS NULL;

-- Email directory, sharded over regions by rendezvous hashing of the email: which
-- region is a user's home. A sign-up reserves its email here with a lease before the
-- user is created, then confirms; an unconfirmed reservation whose lease ran out is
-- replaced only once its home region says no such user exists.
CREATE TABLE email_directory (
    email          text PRIMARY KEY CHECK (email = lower(email)),
    home_region    text NOT NULL,
    user_id        text,
    confirmed      boolean NOT NULL DEFAULT false,
    reservation_id text,
    lease_until    timestamptz,
    updated_on     timestamptz NOT NULL DEFAULT now(),
    CHECK (confirmed = (user_id IS NOT NULL)),
    CHECK (confirmed OR (reservation_id IS NOT NULL AND lease_until IS NOT NULL))
);
