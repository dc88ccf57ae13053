#!/usr/bin/env bash
# Fails when api/src/db/schema.rs is not what `diesel print-schema` makes of the
# migrations: the migrations are applied to a throwaway database and the schema printed
# from it. Installs diesel_cli (Postgres only, pinned) where it is missing.
# Needs a Postgres server: LOYALTY_TEST_PG_URL (test.sh sets it), else `make up`'s.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIESEL_CLI_VERSION=2.3.4
SERVER=${LOYALTY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}

if ! diesel --version 2>/dev/null | grep -q "Version: $DIESEL_CLI_VERSION\b"; then
  echo "==> installing diesel_cli $DIESEL_CLI_VERSION (Postgres only)"
  cargo install diesel_cli --version "$DIESEL_CLI_VERSION" --no-default-features --features postgres --locked --quiet
fi

name=schema_check_$$_$RANDOM
psql "$SERVER/postgres" -qAtc "CREATE DATABASE $name" >/dev/null
trap 'psql "$SERVER/postgres" -qAtc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null' EXIT
url=$SERVER/$name
diesel migration run --database-url "$url" --migration-dir "$ROOT/migrations" >/dev/null
printed=$(mktemp)
diesel print-schema --database-url "$url" >"$printed"
if ! diff -u "$ROOT/api/src/db/schema.rs" "$printed"; then
  echo "api/src/db/schema.rs differs from the migrations' schema (above: - the file, + diesel print-schema)."
  echo "Regenerate it: diesel print-schema --database-url <a migrated database> > api/src/db/schema.rs"
  rm -f "$printed"
  exit 1
fi
rm -f "$printed"
echo "schema.rs matches the migrations"
