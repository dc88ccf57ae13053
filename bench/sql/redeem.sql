-- pgbench: exactly the statements one redemption of 1 point runs in the API (see
-- api/src/services/points.rs `redeem` and `run_once`), in the same SERIALIZABLE
-- transaction, with the same row lock, as prepared statements (run with -M prepared,
-- like diesel). Variables: groups, prefix (group ids are <prefix><n as 5 digits>), caller
-- (a member of every group).
\set g random(1, :groups)
\set rk random(1, 9000000000000000)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT caller_id, key, fingerprint, response_status, response_body, created_on
  FROM idempotency_records WHERE caller_id = :caller AND key = 'pgb-' || :client_id::text || '-' || :rk::text;
SELECT id, name, location, points AS balance, personal_of, created_on, updated_on
  FROM groups WHERE id = :prefix || lpad(:g::text, 5, '0') FOR UPDATE \gset
SELECT active, version FROM group_members
  WHERE group_id = :prefix || lpad(:g::text, 5, '0') AND user_id = :caller;
INSERT INTO ledger_entries (id, group_id, user_id, kind, points, amount_cents, store_region, balance_after, idempotency_key)
  VALUES ('pgb-' || :client_id::text || '-' || :rk::text, :prefix || lpad(:g::text, 5, '0'), :caller, 'redeem', -1, NULL, NULL,
          :balance::bigint - 1, 'pgb-' || :client_id::text || '-' || :rk::text)
  RETURNING id, group_id, user_id, kind, points, amount_cents, store_region, balance_after, idempotency_key, created_on;
UPDATE groups SET points = :balance::bigint - 1, updated_on = now() WHERE id = :prefix || lpad(:g::text, 5, '0');
INSERT INTO idempotency_records (caller_id, key, fingerprint, response_status, response_body)
  VALUES (:caller, 'pgb-' || :client_id::text || '-' || :rk::text, 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0', 201,
          '{"id": "001-01JBENCH0000000000000000000", "group_id": "001-b00001", "user_id": "001-bench0", "points": 1, "balance_after": 0, "created_on": "2026-11-21T00:00:00Z"}');
COMMIT;
