#!/usr/bin/env bash
# Brings up the local deployment: per region a Postgres cluster and API instance(s),
# then the router on :8080. Safe to run twice: whatever already runs is left alone (so
# it also restarts what has died). `down.sh` stops exactly what this started.
#
# Environment (defaults in brackets):
#   LOYALTY_STATE_DIR [.local]   data, logs, pid files, generated secrets
#   LOYALTY_LOCAL_REGIONS ["001 002 003"]
#   PG_PORT_BASE [55000]         region NNN's Postgres listens on base + NNN
#   API_PORT_BASE [8100]         instance k (0, 1, ...) of region NNN on base + NNN + 10*k
#   ROUTER_PORT [8080]
#   API_INSTANCES [1]            API instances per region
#   PROFILE [dev]                cargo profile to build; SKIP_BUILD=1 uses BIN_DIR as is
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${LOYALTY_STATE_DIR:-$ROOT/.local}
REGIONS=${LOYALTY_LOCAL_REGIONS:-"001 002 003"}
PG_PORT_BASE=${PG_PORT_BASE:-55000}
API_PORT_BASE=${API_PORT_BASE:-8100}
ROUTER_PORT=${ROUTER_PORT:-8080}
API_INSTANCES=${API_INSTANCES:-1}
PROFILE=${PROFILE:-dev}
PG=$ROOT/infra/local/pg.sh

mkdir -p "$STATE/pg" "$STATE/run" "$STATE/log"
chmod 755 "$STATE" "$STATE/pg"

bash "$PG" ensure

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "==> building the API and the router ($PROFILE profile)"
  (cd "$ROOT" && cargo build --profile "$PROFILE" --bin loyalty-api --bin loyalty-router)
  target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  case "$PROFILE" in dev) BIN_DIR="$target_dir/debug" ;; *) BIN_DIR="$target_dir/$PROFILE" ;; esac
fi
: "${BIN_DIR:?set BIN_DIR when SKIP_BUILD=1}"

# Secrets live in the git-ignored state folder, generated once.
secrets="$STATE/secrets.env"
if [ ! -f "$secrets" ]; then
  umask 077
  {
    echo "LOYALTY_AUTH__SIGNING_KEYS__K1=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "LOYALTY_SERVICE_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  } >"$secrets"
  umask 022
fi
set -a
# shellcheck disable=SC1090
. "$secrets"
set +a
export LOYALTY_ROUTER_SERVICE_TOKEN=$LOYALTY_SERVICE_TOKEN
export LOYALTY_ADMIN_EMAIL=${LOYALTY_ADMIN_EMAIL:-admin@loyalty.local}
export LOYALTY_ADMIN_PASSWORD=${LOYALTY_ADMIN_PASSWORD:-change-me-admin}
staff_password=${LOYALTY_STAFF_PASSWORD:-change-me-staff}

region_name() { case $1 in 001) echo Europe ;; 002) echo Americas ;; 003) echo Asia-Pacific ;; *) echo "Region $1" ;; esac; }
api_port() { echo $((API_PORT_BASE + 10#$1 + 10 * $2)); }

# One description of the deployment, read by every API instance and the router.
topology="$STATE/topology.toml"
{
  for region in $REGIONS; do
    urls=""
    for k in $(seq 0 $((API_INSTANCES - 1))); do urls="$urls\"http://127.0.0.1:$(api_port "$region" "$k")\", "; done
    printf '[[regions]]\nid = "%s"\nname = "%s"\nurls = [%s]\n\n' "$region" "$(region_name "$region")" "${urls%, }"
  done
} >"$topology"

# shellcheck source=infra/local/process.sh
. "$ROOT/infra/local/process.sh"

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
  pg_port=$((PG_PORT_BASE + 10#$region))
  dir="$STATE/pg/$region"
  bash "$PG" init "$dir"
  bash "$PG" start "$dir" "$pg_port"
  bash "$PG" createdb "$pg_port" loyalty

  for k in $(seq 0 $((API_INSTANCES - 1))); do
    name="api-$region-$k"
    port=$(api_port "$region" "$k")
    if alive "$STATE/run/$name.pid"; then
      echo "==> $name already running (pid $(cat "$STATE/run/$name.pid"))"
      continue
    fi
    echo "==> $name: starting on 127.0.0.1:$port"
    LOYALTY_REGION=$region \
    LOYALTY_LISTEN=127.0.0.1:$port \
    LOYALTY_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/loyalty \
    LOYALTY_BOOTSTRAP__STAFF_EMAIL=staff@$region.loyalty.local \
    LOYALTY_BOOTSTRAP__STAFF_PASSWORD=$staff_password \
      nohup "$BIN_DIR/loyalty-api" --config "$topology" >>"$STATE/log/$name.log" 2>&1 &
    echo $! >"$STATE/run/$name.pid"
  done
done

for region in $REGIONS; do
  for k in $(seq 0 $((API_INSTANCES - 1))); do
    wait_ready "http://127.0.0.1:$(api_port "$region" "$k")/readyz" "api-$region-$k"
  done
done

if alive "$STATE/run/router.pid"; then
  echo "==> router already running (pid $(cat "$STATE/run/router.pid"))"
else
  echo "==> router: starting on 127.0.0.1:$ROUTER_PORT"
  LOYALTY_ROUTER_LISTEN=127.0.0.1:$ROUTER_PORT \
    nohup "$BIN_DIR/loyalty-router" --config "$topology" >>"$STATE/log/router.log" 2>&1 &
  echo $! >"$STATE/run/router.pid"
fi
wait_ready "http://127.0.0.1:$ROUTER_PORT/readyz" "router"

cat <<MSG

Local deployment is up: the platform at http://127.0.0.1:$ROUTER_PORT
  region  API instance(s)                           Postgres
$(for region in $REGIONS; do
  urls=""; for k in $(seq 0 $((API_INSTANCES - 1))); do urls="$urls http://127.0.0.1:$(api_port "$region" "$k")"; done
  printf '  %s    %-40s  postgres://postgres@127.0.0.1:%s/loyalty\n' "$region" "$urls" $((PG_PORT_BASE + 10#$region))
done)

  admin:  $LOYALTY_ADMIN_EMAIL / $( [ "$LOYALTY_ADMIN_PASSWORD" = change-me-admin ] && echo "change-me-admin (default)" || echo "(from LOYALTY_ADMIN_PASSWORD)" ), lives in region 001
  staff:  staff@<region>.loyalty.local / $( [ "$staff_password" = change-me-staff ] && echo "change-me-staff (default)" || echo "(from LOYALTY_STAFF_PASSWORD)" ), one per region
  logs:   $STATE/log/     stop with: make down
MSG
