-- pgbench: exactly the statements one redemption of 1 point runs in the API (see
-- api/src/db/points.rs `apply`, for a batch of one): the idempotency lookup
-- before the transaction, then the SERIALIZABLE transaction with the same row lock, as
-- prepared statements (run with -M prepared, like diesel). The API binds each list as one
-- array parameter; pgbench has no array variables, so each list here is an ARRAY[...]
-- of one parameter. Variables: groups, prefix (group ids are <prefix><n as 5 digits>),
-- caller (a member of every group).
\set g random(1, :groups)
\set rk random(1, 9000000000000000)
SELECT r.caller_id, r.key, r.fingerprint, r.response_status, r.response_body, r.created_on
  FROM unnest(ARRAY[:caller::text], ARRAY['pgb-' || :client_id::text || '-' || :rk::text]) AS k(caller_id, key)
  CROSS JOIN LATERAL (SELECT * FROM idempotency_records r WHERE r.caller_id = k.caller_id AND r.key = k.key LIMIT 1) r;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT id, name, location, points AS balance, personal_of, owner_id, created_on, updated_on
  FROM groups WHERE id = ANY(ARRAY[:prefix || lpad(:g::text, 5, '0')]) ORDER BY id FOR UPDATE \gset
SELECT m.group_id, m.user_id, m.can_redeem
  FROM unnest(ARRAY[:prefix || lpad(:g::text, 5, '0')], ARRAY[:caller::text]) AS p(group_id, user_id)
  CROSS JOIN LATERAL (SELECT m.group_id, m.user_id, m.can_redeem FROM group_members m
                      WHERE m.group_id = p.group_id AND m.user_id = p.user_id AND m.active LIMIT 1) m;
INSERT INTO ledger_entries (id, group_id, user_id, kind, points, amount_cents, store_region, balance_after, idempotency_key,
                            actor_id)
  SELECT * FROM unnest(ARRAY['pgb-' || :client_id::text || '-' || :rk::text], ARRAY[:prefix || lpad(:g::text, 5, '0')],
                       ARRAY[:caller::text], ARRAY['redeem'], ARRAY[-1::bigint], ARRAY[NULL::bigint], ARRAY[NULL::text],
                       ARRAY[:balance::bigint - 1], ARRAY['pgb-' || :client_id::text || '-' || :rk::text],
                       ARRAY[:caller::text])
  RETURNING id, group_id, user_id, kind, points, amount_cents, store_region, balance_after, idempotency_key, created_on,
            actor_id;
UPDATE groups SET points = u.points, updated_on = now()
  FROM unnest(ARRAY[:prefix || lpad(:g::text, 5, '0')], ARRAY[:balance::bigint - 1]) AS u(id, points)
  WHERE groups.id = ANY(ARRAY[:prefix || lpad(:g::text, 5, '0')]) AND groups.id = u.id;
INSERT INTO idempotency_records (caller_id, key, fingerprint, response_status, response_body)
  SELECT * FROM unnest(ARRAY[:caller::text], ARRAY['pgb-' || :client_id::text || '-' || :rk::text],
                       ARRAY['f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0'], ARRAY[201::smallint],
                       ARRAY['{"id": "001-01JBENCH0000000000000000000", "group_id": "001-b00001", "user_id": "001-bench0", "points": 1, "balance_after": 0, "created_on": "2026-11-21T00:00:00Z"}'::jsonb]);
COMMIT;
