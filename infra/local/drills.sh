#!/usr/bin/env bash
# The failure drills (system/tests/system/drills/), one at a time, printing their figures.
# Each brings up its own drill deployment (2 API instances and a hot standby per region,
# fault links everywhere) on free ports, so this runs beside `make up`.
#   bash infra/local/drills.sh [FILTER]     e.g. drill_2
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
bash infra/local/pg.sh ensure
cargo build --workspace --bins --locked
filter='binary_id(system::system) & test(/^drills::/)'
if [ -n "${1:-}" ]; then filter="$filter and test(${1})"; fi
# --workspace keeps the feature set of `make test`'s build, so nothing is rebuilt.
cargo nextest run --workspace --locked --no-fail-fast -E "$filter" --test-threads 1 --no-capture
