-- Failed attempts, counted in the region's database so that every instance of the
-- region sees the same counts: kept in each instance's memory, a lockout of five failed
-- logins let an attacker make five per instance behind the load balancer.
--
-- A lockout: failures of one subject (a login's email and client address, a join's
-- caller), and until when it is refused. A subject quiet for twice the longest lockout
-- starts again from nothing; housekeeping deletes it after that.
CREATE TABLE lockouts (
    kind         text NOT NULL,
    subject      text NOT NULL,
    failures     integer NOT NULL,
    locked_until timestamptz,
    last_failure timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject)
);
CREATE INDEX lockouts_by_age ON lockouts (last_failure);

-- Failed logins of each email, from any address, in the minute that started at
-- `minute_started` and in the minute before it: past `auth.email_failures_per_minute`
-- the account is watched (only networks its user logged in from may try it).
CREATE TABLE email_failures (
    email          text PRIMARY KEY,
    minute_started timestamptz NOT NULL DEFAULT now(),
    failures       integer NOT NULL,
    previous       integer NOT NULL DEFAULT 0
);
CREATE INDEX email_failures_by_age ON email_failures (minute_started);
