#!/usr/bin/env bash
# The failure drills (system/tests/system/drills/), one at a time, printing their figures.
# Each brings up its own drill deployment (2 API instances and a hot standby per region,
# fault links everywhere) on free ports, so this runs beside `make up`.
#   bash infra/local/drills.sh [FILTER]     e.g. drill_2
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
bash infra/local/pg.sh ensure
# The selection of `make test` (infra/local/test.sh), binaries and tests in one build: a
# build of the binaries alone resolves other features for shared crates than the tests.
cargo_args=(--workspace --locked --features api/iam)
cargo build "${cargo_args[@]}" --bins --tests
filter='binary_id(system::system) & test(/^drills::/)'
if [ -n "${1:-}" ]; then filter="$filter and test(${1})"; fi
cargo nextest run "${cargo_args[@]}" --no-fail-fast -E "$filter" --test-threads 1 --no-capture
