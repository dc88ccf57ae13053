#!/usr/bin/env bash
# Checks every region's books in a local deployment: `loyalty-api --audit` against each
# region's database (its primary, also after a failover), read-only, and each region's
# membership index against the other regions' groups (`--across-regions`, over their
# /internal API: the deployment must be up). Exits 1 when any region's books do not add
# up or a region could not be asked. `make audit`; the release load test runs it after its
# load, so its verdict is checked from the databases' side as well as the clients'.
#
# Environment: LOYALTY_STATE_DIR [.local], LOYALTY_DEPLOYMENT [local], PROFILE [dev].
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${LOYALTY_STATE_DIR:-$ROOT/.local}
PROFILE=${PROFILE:-dev}

cd "$ROOT"
cargo build -q --profile "$PROFILE" --bin loyalty-api --bin loyalty-topology
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
case "$PROFILE" in dev) BIN_DIR="$target_dir/debug" ;; *) BIN_DIR="$target_dir/$PROFILE" ;; esac

topology_args=(env --deployment "${LOYALTY_DEPLOYMENT:-local}")
compgen -G "$STATE/pg/*-standby" >/dev/null && topology_args+=(--standby)
eval "$("$BIN_DIR/loyalty-topology" "${topology_args[@]}")"

# The instances' own description of the deployment (regions and their URLs, TLS) and
# service token, as up.sh wrote them.
set -a
# shellcheck disable=SC1091
. "$STATE/secrets.env"
set +a

failed=0
for region in $REGIONS; do
  primary="PG_PORT_$region" standby="STANDBY_PORT_$region"
  hosts="127.0.0.1:${!primary}"
  [ -d "$STATE/pg/$region-standby" ] && hosts="$hosts,127.0.0.1:${!standby}"
  echo "==> region $region"
  LOYALTY_REGION=$region \
  LOYALTY_DATABASE_URL="postgres://postgres@$hosts/loyalty?target_session_attrs=read-write" \
    "$BIN_DIR/loyalty-api" --config "$STATE/topology.toml" --audit --across-regions || failed=1
done
exit "$failed"
