#!/usr/bin/env bash
# Stops what up.sh started: the API processes it recorded and the regions' clusters.
# Data stays in the state folder; delete it for a clean slate.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${LOYALTY_STATE_DIR:-$ROOT/.local}
PG=$ROOT/infra/local/pg.sh

# shellcheck source=infra/local/process.sh
. "$ROOT/infra/local/process.sh"

shopt -s nullglob
# The router first, so it does not report its regions going away.
for pidfile in "$STATE"/run/router.pid "$STATE"/run/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if alive "$pidfile"; then
    echo "==> stopping $(basename "$pidfile" .pid) (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 40); do alive "$pidfile" || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done
for dir in "$STATE"/pg/*/; do
  echo "==> stopping Postgres in ${dir%/}"
  bash "$PG" stop "${dir%/}"
done
echo "Local deployment stopped."
