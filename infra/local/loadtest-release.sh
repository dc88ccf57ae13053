#!/usr/bin/env bash
# The default load scenario against a release build of the platform on ports of its own
# (beside `make up`), then down. Output in docs/loadtest/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export LOYALTY_STATE_DIR=$ROOT/.local/loadtest
# Its ports: the topology's `loadtest` deployment (infra/local/topology.toml).
export LOYALTY_DEPLOYMENT=loadtest PROFILE=release
export LOYALTY_ADMIN_EMAIL=admin@loyalty.local LOYALTY_ADMIN_PASSWORD=change-me-admin

cd "$ROOT"
cargo build --release -q -p loadtest -p topology
# From an empty deployment every time, so that each run's figures start from the same
# state (earlier runs' users, groups and ledgers used to stay and grow).
bash infra/local/down.sh >/dev/null 2>&1 || true
rm -rf "$LOYALTY_STATE_DIR"
trap 'bash infra/local/down.sh >/dev/null' EXIT
bash infra/local/up.sh >/dev/null
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
eval "$("$target_dir/release/loyalty-topology" env --deployment loadtest)"
"$target_dir/release/loyalty-loadtest" --url "http://127.0.0.1:$ROUTER_PORT" --out docs/loadtest "$@"
# The same books from the databases' side, added to the report.
status=0
audit=$(PROFILE=release bash infra/local/audit.sh) || status=$?
printf '%s\n' "$audit"
{
  printf "\nThe same books from the databases' side (\`loyalty-api --audit\`, every group of every region):\n\n"
  printf '```\n%s\n```\n' "$audit"
} >>docs/loadtest/report.md
exit "$status"
