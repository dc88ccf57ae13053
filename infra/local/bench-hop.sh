#!/usr/bin/env bash
# The router-hop benchmark: a release build of the platform on ports of its own (so it
# runs beside `make up`), the same GET sent directly and through the router, then down.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export LOYALTY_STATE_DIR=$ROOT/.local/bench
# Its ports: the topology's `bench` deployment (infra/local/topology.toml).
export LOYALTY_DEPLOYMENT=bench PROFILE=release

cd "$ROOT"
cargo build --release --bin loyalty-bench --bin loyalty-topology
trap 'bash infra/local/down.sh >/dev/null' EXIT
bash infra/local/up.sh >/dev/null
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
eval "$("$target_dir/release/loyalty-topology" env --deployment bench --regions 001)"
"$target_dir/release/loyalty-bench" hop --router "http://127.0.0.1:$ROUTER_PORT" --direct "http://127.0.0.1:$API_PORT_001_0" "$@"
