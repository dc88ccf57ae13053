-- The networks (an IPv4 address's /24, an IPv6 address's /64) each user of this region
-- has logged in from, and when last. While an account is under a guessing attack (many
-- failed logins from anywhere), only these may try its password; housekeeping forgets
-- a network `auth.known_network_days` after its last login.
CREATE TABLE login_networks (
    user_id    text NOT NULL,
    network    text NOT NULL,
    last_login timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, network)
);
CREATE INDEX login_networks_by_age ON login_networks (last_login);
