#!/usr/bin/env bash
# Brings up the local deployment: one Postgres cluster and one API instance per region
# (and, once it exists, the router on :8080). Safe to run twice: whatever already runs
# is left alone. `down.sh` stops exactly what this started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${LOYALTY_STATE_DIR:-$ROOT/.local}
REGIONS=${LOYALTY_LOCAL_REGIONS:-"001 002 003"}
PROFILE=${PROFILE:-dev}
PG=$ROOT/infra/local/pg.sh

mkdir -p "$STATE/pg" "$STATE/run" "$STATE/log"
chmod 755 "$STATE" "$STATE/pg"

bash "$PG" ensure

echo "==> building the API ($PROFILE profile)"
(cd "$ROOT" && cargo build --profile "$PROFILE" --bin loyalty-api)
target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
case "$PROFILE" in dev) bin="$target_dir/debug/loyalty-api" ;; *) bin="$target_dir/$PROFILE/loyalty-api" ;; esac

# Secrets live in the git-ignored state folder, generated once.
secrets="$STATE/secrets.env"
if [ ! -f "$secrets" ]; then
  umask 077
  echo "LOYALTY_AUTH__SIGNING_KEYS__K1=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$secrets"
  umask 022
fi
set -a
# shellcheck disable=SC1090
. "$secrets"
set +a
export LOYALTY_ADMIN_EMAIL=${LOYALTY_ADMIN_EMAIL:-admin@loyalty.local}
export LOYALTY_ADMIN_PASSWORD=${LOYALTY_ADMIN_PASSWORD:-change-me-admin}
staff_password=${LOYALTY_STAFF_PASSWORD:-change-me-staff}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_ready() {
  local url=$1 name=$2
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "$name did not become ready; see its log in $STATE/log" >&2
  return 1
}

for region in $REGIONS; do
  n=$((10#$region))
  pg_port=$((55000 + n))
  api_port=$((8100 + n))
  dir="$STATE/pg/$region"
  bash "$PG" init "$dir"
  bash "$PG" start "$dir" "$pg_port"
  bash "$PG" createdb "$pg_port" loyalty

  pidfile="$STATE/run/api-$region.pid"
  if alive "$pidfile"; then
    echo "==> region $region: API already running (pid $(cat "$pidfile"))"
    continue
  fi
  echo "==> region $region: starting the API on 127.0.0.1:$api_port"
  LOYALTY_REGION=$region \
  LOYALTY_LISTEN=127.0.0.1:$api_port \
  LOYALTY_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/loyalty \
  LOYALTY_BOOTSTRAP__STAFF_EMAIL=staff@$region.loyalty.local \
  LOYALTY_BOOTSTRAP__STAFF_PASSWORD=$staff_password \
    nohup "$bin" >>"$STATE/log/api-$region.log" 2>&1 &
  echo $! >"$pidfile"
done

for region in $REGIONS; do
  n=$((10#$region))
  wait_ready "http://127.0.0.1:$((8100 + n))/readyz" "API $region"
done

cat <<MSG

Local deployment is up.
  region  API                     Postgres
$(for region in $REGIONS; do n=$((10#$region)); printf '  %s     http://127.0.0.1:%s   postgres://postgres@127.0.0.1:%s/loyalty\n' "$region" $((8100 + n)) $((55000 + n)); done)

  admin:  $LOYALTY_ADMIN_EMAIL / $( [ "$LOYALTY_ADMIN_PASSWORD" = change-me-admin ] && echo "change-me-admin (default)" || echo "(from LOYALTY_ADMIN_PASSWORD)" ), lives in region 001 (http://127.0.0.1:8101)
  staff:  staff@<region>.loyalty.local / $( [ "$staff_password" = change-me-staff ] && echo "change-me-staff (default)" || echo "(from LOYALTY_STAFF_PASSWORD)" ), one per region
  logs:   $STATE/log/     stop with: make down
MSG
