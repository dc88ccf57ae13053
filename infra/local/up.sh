#!/usr/bin/env bash
# Brings up the local deployment: per region a Postgres cluster and API instance(s),
# then the router on :8080. Safe to run twice: whatever already runs is left alone (so
# it also restarts what has died). `down.sh` stops exactly what this started.
#
# The regions, their names and every port come from infra/local/topology.toml, through
# `loyalty-topology env` (the one place that computes them).
#
# Environment (defaults in brackets):
#   LOYALTY_STATE_DIR [.local]   data, logs, pid files, generated secrets
#   LOYALTY_DEPLOYMENT [local]   which deployment of the topology (its ports)
#   LOYALTY_LOCAL_REGIONS [all]  only these regions of the topology ("001 002")
#   PG_PORT_BASE, API_PORT_BASE, ROUTER_PORT, FAULTS_CONTROL_PORT, STANDBY_PORT_OFFSET,
#   FAULT_PORT_OFFSET            replace the deployment's bases (a stack test's free ports)
#   API_INSTANCES [topology's]   API instances per region
#   STANDBY [0]                  1: each region's Postgres gets a synchronous streaming
#                                hot standby; the APIs' URL lists both (libpq
#                                target_session_attrs=read-write), so they follow a
#                                promotion (`pg.sh promote`) by themselves
#   FAULTS [0]                   1: the router reaches each API, and each API its Postgres,
#                                through loyalty-faults links; faults are set on its
#                                control API
#   PROFILE [dev]                cargo profile to build; SKIP_BUILD=1 uses BIN_DIR as is
#   EDGE_LIMITS [local]          local: the router's limits per client address are raised,
#                                because every client here is 127.0.0.1 (tests, load test,
#                                bench); the per-email sign-up limit keeps its default.
#                                default: every limit as a real deployment runs it, and the
#                                client address taken from X-Forwarded-For (one trusted
#                                hop, from 127.0.0.1), so a test can speak as several
#                                addresses
#   TLS [0]                      1: every service serves HTTPS and calls the others over
#                                HTTPS, with a throwaway CA made in $STATE/tls (tls.sh);
#                                clients trust it with LOYALTY_CA_FILE=$STATE/tls/ca.pem
#
# After a failover the promoted standby stays primary; the next up.sh rebuilds the old
# primary as its standby.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${LOYALTY_STATE_DIR:-$ROOT/.local}
API_INSTANCES=${API_INSTANCES:-}
PROFILE=${PROFILE:-dev}
STANDBY=${STANDBY:-0}
FAULTS=${FAULTS:-0}
EDGE_LIMITS=${EDGE_LIMITS:-local}
TLS=${TLS:-0}
PG=$ROOT/infra/local/pg.sh

mkdir -p "$STATE/pg" "$STATE/run" "$STATE/log"
chmod 755 "$STATE" "$STATE/pg"

bash "$PG" ensure

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "==> building the API, the router and the web console ($PROFILE profile)"
  (cd "$ROOT" && cargo build --profile "$PROFILE" --bin loyalty-api --bin loyalty-router --bin loyalty-faults --bin loyalty-topology --bin loyalty-web)
  target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  case "$PROFILE" in dev) BIN_DIR="$target_dir/debug" ;; *) BIN_DIR="$target_dir/$PROFILE" ;; esac
fi
: "${BIN_DIR:?set BIN_DIR when SKIP_BUILD=1}"

topology_args=(env --deployment "${LOYALTY_DEPLOYMENT:-local}" --regions "${LOYALTY_LOCAL_REGIONS:-}")
[ -n "$API_INSTANCES" ] && topology_args+=(--instances "$API_INSTANCES")
[ "$STANDBY" = 1 ] && topology_args+=(--standby)
[ "$FAULTS" = 1 ] && topology_args+=(--faults)
[ -n "${PG_PORT_BASE:-}" ] && topology_args+=(--postgres "$PG_PORT_BASE")
[ -n "${API_PORT_BASE:-}" ] && topology_args+=(--api "$API_PORT_BASE")
[ -n "${ROUTER_PORT:-}" ] && topology_args+=(--router "$ROUTER_PORT")
[ -n "${FAULTS_CONTROL_PORT:-}" ] && topology_args+=(--faults-control "$FAULTS_CONTROL_PORT")
[ -n "${STANDBY_PORT_OFFSET:-}" ] && topology_args+=(--standby-offset "$STANDBY_PORT_OFFSET")
[ -n "${FAULT_PORT_OFFSET:-}" ] && topology_args+=(--fault-offset "$FAULT_PORT_OFFSET")
layout=$("$BIN_DIR/loyalty-topology" "${topology_args[@]}")
eval "$layout"
# The instances of a region, by number: 0 1 ...
instances() { local k=0 v; while v="API_PORT_${1}_$k" && [ -n "${!v:-}" ]; do echo "$k"; k=$((k + 1)); done; }

# Secrets live in the git-ignored state folder, generated once.
secrets="$STATE/secrets.env"
(umask 077 && touch "$secrets")
# The services' token for /internal, and the proxy token the console vouches for its
# visitors' addresses with; each drawn once, added to an older state folder's file.
for secret in LOYALTY_SERVICE_TOKEN LOYALTY_PROXY_TOKEN; do
  grep -q "^$secret=" "$secrets" || echo "$secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$secrets"
done
set -a
# shellcheck disable=SC1090
. "$secrets"
set +a
# Each region signs tokens with its own Ed25519 key (its seed stays in its own file, for
# its own instances); every region verifies with all the public keys, in the topology.
keys="$STATE/keys"
mkdir -p "$keys"
for region in $REGIONS; do
  if [ ! -s "$keys/$region.seed" ]; then
    pair=$("$BIN_DIR/loyalty-api" --new-signing-key)
    (umask 077 && echo "$pair" | sed -n 1p >"$keys/$region.seed")
    echo "$pair" | sed -n 2p >"$keys/$region.public"
  fi
done
export LOYALTY_ROUTER_SERVICE_TOKEN=$LOYALTY_SERVICE_TOKEN
export LOYALTY_ROUTER_LIMITS__PROXY_TOKEN=$LOYALTY_PROXY_TOKEN
export LOYALTY_ADMIN_EMAIL=${LOYALTY_ADMIN_EMAIL:-admin@loyalty.local}
export LOYALTY_ADMIN_PASSWORD=${LOYALTY_ADMIN_PASSWORD:-change-me-admin}
staff_password=${LOYALTY_STAFF_PASSWORD:-change-me-staff}

region_name() { local v="REGION_NAME_$1"; echo "${!v}"; }
api_port() { local v="API_PORT_$1_$2"; echo "${!v}"; }
api_via() { local v="API_VIA_$1_$2"; echo "${!v}"; }
pg_port() { local v="PG_PORT_$1"; echo "${!v}"; }
pg_via() { local v="PG_VIA_$1"; echo "${!v}"; }
standby_port() { local v="STANDBY_PORT_$1"; echo "${!v}"; }
standby_via() { local v="STANDBY_VIA_$1"; echo "${!v}"; }

scheme=http
curl_tls=()
if [ "$TLS" = 1 ]; then
  bash "$ROOT/infra/local/tls.sh" "$STATE/tls"
  scheme=https
  curl_tls=(--cacert "$STATE/tls/ca.pem")
fi

# One description of the deployment, read by every API instance and the router.
topology="$STATE/topology.toml"
{
  if [ "$TLS" = 1 ]; then
    printf '[tls]\ncert_file = "%s"\nkey_file = "%s"\nca_file = "%s"\n\n' \
      "$STATE/tls/server.pem" "$STATE/tls/server.key" "$STATE/tls/ca.pem"
  fi
  for region in $REGIONS; do
    urls=""
    for k in $(instances "$region"); do urls="$urls\"$scheme://127.0.0.1:$(api_via "$region" "$k")\", "; done
    printf '[[regions]]\nid = "%s"\nname = "%s"\nurls = [%s]\n\n' "$region" "$(region_name "$region")" "${urls%, }"
  done
  printf '[auth.verifying_keys]\n'
  for region in $REGIONS; do printf '%sk1 = "%s"\n' "$region" "$(cat "$keys/$region.public")"; done
} >"$topology"

# shellcheck source=infra/local/process.sh
. "$ROOT/infra/local/process.sh"

# Waits for $name to answer on $url. A process that exited fails at once, and either
# way the end of its log goes to stderr: whoever ran this (a person, CI, a test) sees why.
wait_ready() {
  local url=$1 name=$2 why="did not become ready in 60 s"
  for _ in $(seq 1 600); do
    if curl -fsS "${curl_tls[@]}" --max-time 2 -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if ! alive "$STATE/run/$name.pid"; then why="exited"; break; fi
    sleep 0.1
  done
  echo "$name $why; the end of $STATE/log/$name.log:" >&2
  tail -n 20 "$STATE/log/$name.log" >&2
  return 1
}

if [ "$FAULTS" = 1 ]; then
  if alive "$STATE/run/faults.pid"; then
    echo "==> fault proxy already running (pid $(cat "$STATE/run/faults.pid"))"
  else
    links=()
    link() { links+=(--link "$1=127.0.0.1:$2=127.0.0.1:$3"); }
    for region in $REGIONS; do
      for k in $(instances "$region"); do link "api-$region-$k" "$(api_via "$region" "$k")" "$(api_port "$region" "$k")"; done
      link "pg-$region" "$(pg_via "$region")" "$(pg_port "$region")"
      if [ "$STANDBY" = 1 ]; then link "pg-$region-standby" "$(standby_via "$region")" "$(standby_port "$region")"; fi
    done
    echo "==> fault proxy: control API on 127.0.0.1:$FAULTS_CONTROL_PORT"
    nohup "$BIN_DIR/loyalty-faults" --control "127.0.0.1:$FAULTS_CONTROL_PORT" "${links[@]}" >>"$STATE/log/faults.log" 2>&1 &
    echo $! >"$STATE/run/faults.pid"
  fi
fi

# What region $1's API instances connect to: through the fault links where there are any,
# and with STANDBY=1 to whichever of the two nodes takes writes.
db_url() {
  if [ "$STANDBY" = 1 ]; then
    echo "postgres://postgres@127.0.0.1:$(pg_via "$1"),127.0.0.1:$(standby_via "$1")/loyalty?target_session_attrs=read-write&connect_timeout=2"
  else
    echo "postgres://postgres@127.0.0.1:$(pg_via "$1")/loyalty"
  fi
}

# Starts region $1's Postgres (a primary and, with STANDBY=1, its standby).
start_database() {
  local region=$1 a_dir="$STATE/pg/$1" a_port b_dir="$STATE/pg/$1-standby" b_port
  a_port=$(pg_port "$region")
  if [ "$STANDBY" != 1 ]; then
    bash "$PG" init "$a_dir"
    bash "$PG" start "$a_dir" "$a_port"
    bash "$PG" createdb "$a_port" loyalty
    return
  fi
  b_port=$(standby_port "$region")
  # The primary is the node not in recovery: a at first, b after b was promoted.
  local primary=("$a_dir" "$a_port") standby=("$b_dir" "$b_port")
  if [ -f "$b_dir/PG_VERSION" ] && [ ! -f "$b_dir/standby.signal" ]; then
    primary=("$b_dir" "$b_port"); standby=("$a_dir" "$a_port")
  fi
  bash "$PG" init "${primary[0]}"
  bash "$PG" start "${primary[0]}" "${primary[1]}"
  bash "$PG" createdb "${primary[1]}" loyalty
  if [ -f "${standby[0]}/PG_VERSION" ] && [ ! -f "${standby[0]}/standby.signal" ]; then
    echo "==> $region: ${standby[0]} was primary before a failover; rebuilding it as the standby"
    bash "$PG" kill "${standby[0]}"
    rm -rf "${standby[0]}"
  fi
  bash "$PG" replica "${standby[0]}" "${primary[1]}"
  bash "$PG" start "${standby[0]}" "${standby[1]}"
  bash "$PG" sync "${primary[1]}" on
  # Until the standby streams, every commit on the primary waits for it: the APIs would
  # start against a database that does not commit.
  bash "$PG" wait-sync "${primary[1]}"
}

# The regions' clusters are independent: set up at once, they take the slowest one's
# time instead of the sum (a drill stack, with standbys, started 2-3 s sooner).
started=()
for region in $REGIONS; do
  start_database "$region" &
  started+=($!)
done
for pid in "${started[@]}"; do wait "$pid"; done

for region in $REGIONS; do
  db_url=$(db_url "$region")
  for k in $(instances "$region"); do
    name="api-$region-$k"
    port=$(api_port "$region" "$k")
    if alive "$STATE/run/$name.pid"; then
      echo "==> $name already running (pid $(cat "$STATE/run/$name.pid"))"
      continue
    fi
    echo "==> $name: starting on 127.0.0.1:$port"
    LOYALTY_REGION=$region \
    LOYALTY_AUTH__SIGNING_KEY=$(cat "$keys/$region.seed") \
    LOYALTY_LISTEN=127.0.0.1:$port \
    LOYALTY_DATABASE_URL=$db_url \
    LOYALTY_BOOTSTRAP__STAFF_EMAIL=staff@$region.loyalty.local \
    LOYALTY_BOOTSTRAP__STAFF_PASSWORD=$staff_password \
      nohup "$BIN_DIR/loyalty-api" --config "$topology" >>"$STATE/log/$name.log" 2>&1 &
    echo $! >"$STATE/run/$name.pid"
  done
done

for region in $REGIONS; do
  for k in $(instances "$region"); do
    wait_ready "$scheme://127.0.0.1:$(api_port "$region" "$k")/readyz" "api-$region-$k"
  done
done

if alive "$STATE/run/router.pid"; then
  echo "==> router already running (pid $(cat "$STATE/run/router.pid"))"
else
  echo "==> router: starting on 127.0.0.1:$ROUTER_PORT"
  if [ "$EDGE_LIMITS" = local ]; then
    for limit in PER_ADDRESS SIGN_UP_PER_ADDRESS LOGIN_PER_ADDRESS JOIN_PER_ADDRESS; do
      export "LOYALTY_ROUTER_LIMITS__${limit}__PER_MINUTE=60000000" "LOYALTY_ROUTER_LIMITS__${limit}__BURST=1000000"
    done
  else
    # The tests that speak as several addresses connect from 127.0.0.1, as a load
    # balancer would from its own network; other loopback addresses are not proxies.
    export LOYALTY_ROUTER_LIMITS__TRUSTED_PROXY_HOPS=1 LOYALTY_ROUTER_LIMITS__TRUSTED_PROXIES='[127.0.0.1/32, ::1/128]'
  fi
  LOYALTY_ROUTER_LISTEN=127.0.0.1:$ROUTER_PORT LOYALTY_ROUTER_ADMIN_LISTEN=127.0.0.1:$ROUTER_ADMIN_PORT \
    nohup "$BIN_DIR/loyalty-router" --config "$topology" >>"$STATE/log/router.log" 2>&1 &
  echo $! >"$STATE/run/router.pid"
fi
wait_ready "$scheme://127.0.0.1:$ROUTER_PORT/readyz" "router"

# The web console, a client of the router, where the topology gives it a port.
if [ -n "${EXTRA_CONSOLE:-}" ]; then
  if ! alive "$STATE/run/console.pid"; then
    echo "==> web console: starting on 127.0.0.1:$EXTRA_CONSOLE"
    [ -s "$STATE/console-session.key" ] || (umask 077 && head -c 64 /dev/urandom | base64 -w0 >"$STATE/console-session.key")
    console_env=(LOYALTY_WEB_LISTEN="127.0.0.1:$EXTRA_CONSOLE" LOYALTY_WEB_PLATFORM_URL="$scheme://127.0.0.1:$ROUTER_PORT"
      LOYALTY_WEB_ROUTER_METRICS_URL="http://127.0.0.1:$ROUTER_ADMIN_PORT"
      LOYALTY_WEB_SESSION_KEY="$(cat "$STATE/console-session.key")" LOYALTY_WEB_PROXY_TOKEN="$LOYALTY_PROXY_TOKEN")
    if [ "$TLS" = 1 ]; then console_env+=(LOYALTY_WEB_TLS__CA_FILE="$STATE/tls/ca.pem"); fi
    env "${console_env[@]}" nohup "$BIN_DIR/loyalty-web" >>"$STATE/log/console.log" 2>&1 &
    echo $! >"$STATE/run/console.pid"
  fi
  wait_ready "http://127.0.0.1:$EXTRA_CONSOLE/healthz" console
fi

cat <<MSG

Local deployment is up: the platform at $scheme://127.0.0.1:$ROUTER_PORT
$( [ -n "${EXTRA_CONSOLE:-}" ] && echo "  web console: http://127.0.0.1:$EXTRA_CONSOLE")
  region  API instance(s)                           Postgres
$(for region in $REGIONS; do
  urls=""; for k in $(instances "$region"); do urls="$urls $scheme://127.0.0.1:$(api_port "$region" "$k")"; done
  printf '  %s    %-40s  postgres://postgres@127.0.0.1:%s/loyalty%s\n' "$region" "$urls" "$(pg_port "$region")" \
    "$( [ "$STANDBY" = 1 ] && echo " (standby :$(standby_port "$region"))")"
done)
$( [ "$FAULTS" = 1 ] && echo "  faults: the others reach every port above through a fault proxy link; control http://127.0.0.1:$FAULTS_CONTROL_PORT/links")

  admin:  $LOYALTY_ADMIN_EMAIL / $( [ "$LOYALTY_ADMIN_PASSWORD" = change-me-admin ] && echo "change-me-admin (default)" || echo "(from LOYALTY_ADMIN_PASSWORD)" ), lives in region 001
  staff:  staff@<region>.loyalty.local / $( [ "$staff_password" = change-me-staff ] && echo "change-me-staff (default)" || echo "(from LOYALTY_STAFF_PASSWORD)" ), one per region
  logs:   $STATE/log/     stop with: make down
$( [ "$TLS" = 1 ] && echo "  TLS:    clients trust the local CA: export LOYALTY_CA_FILE=$STATE/tls/ca.pem (curl --cacert)")
MSG
