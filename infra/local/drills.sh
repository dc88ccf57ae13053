#!/usr/bin/env bash
# The failure drills (router/tests/drills.rs), one at a time, printing their figures.
# Each brings up its own drill deployment (2 API instances and a hot standby per region,
# fault links everywhere) on free ports, so this runs beside `make up`.
#   bash infra/local/drills.sh [FILTER]     e.g. drill_2
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
bash infra/local/pg.sh ensure
cargo build --workspace --bins --locked
filter=()
if [ -n "${1:-}" ]; then filter=(-E "test(${1})"); fi
cargo nextest run --locked --no-fail-fast -p router --test drills --test-threads 1 --no-capture "${filter[@]}"
