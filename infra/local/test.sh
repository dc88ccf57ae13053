#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test against a
# throwaway Postgres cluster that this script starts and removes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PG=$ROOT/infra/local/pg.sh
cd "$ROOT"

# Incremental caches only pay off across edits; on a fresh clone they were a quarter of
# the target dir (3 GB), and CI's disk is not large.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

# Each step prints the minutes and seconds since the start, so a slow CI run says where;
# the background job's steps (below) too.
export LOYALTY_TEST_STARTED=$EPOCHSECONDS
step() {
  local s=$((EPOCHSECONDS - LOYALTY_TEST_STARTED))
  printf '==> [%dm%02ds] %s\n' $((s / 60)) $((s % 60)) "$*"
}
stamp() {
  local line
  while IFS= read -r line; do
    if [[ $line == '==> '* && $line != '==> ['* ]]; then step "${line#==> }"; else printf '%s\n' "$line"; fi
  done
}
export -f step stamp

bash "$PG" ensure
# `ip` (iproute2): the resilience test silences an address of its own with it.
command -v ip >/dev/null 2>&1 ||
  { apt-get install -y -qq iproute2 || { apt-get update -qq && apt-get install -y -qq iproute2; }; } >/dev/null 2>&1 || true

# The AWS operations tool is tested against moto (a mock AWS API) on loopback.
if ! command -v moto_server >/dev/null 2>&1; then
  MOTO_SERVER=$(bash "$ROOT/infra/local/venv.sh" moto)/bin/moto_server
  export MOTO_SERVER
fi
# schemathesis checks the OpenAPI document against the running platform (a system test).
LOYALTY_SCHEMATHESIS=$(bash "$ROOT/infra/local/venv.sh" schemathesis)/bin/st
export LOYALTY_SCHEMATHESIS

scratch=$(mktemp -d /tmp/loyalty-test.XXXXXX)
chmod 755 "$scratch"
infra_pid=
cleanup() {
  if [ -n "$infra_pid" ]; then kill -- -"$infra_pid" 2>/dev/null || true; fi
  bash "$PG" stop "$scratch/pg" || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# In a session of their own while cargo compiles and the tests run: Chromium for the
# console's browser test (installed where missing), then two independent checks of the
# AWS deployment side by side, terraform and checkov (infra/check.sh, about a minute) and
# the whole stack applied to a simulated AWS and destroyed (infra/sim, four minutes, most
# of them idle in the AWS provider's waiters: a database is "available" after 80 s). One
# after the other, they had kept the drills waiting 44 s. The tests wait for Chromium
# (browser.done), the drills for all.
infrastructure_checks() {
  local root=$1 scratch=$2 check=0 sim=0 sim_pid
  bash "$root/infra/local/browser.sh"
  touch "$scratch/browser.done"
  bash "$root/infra/sim/sim.sh" 2>&1 | stamp >"$scratch/sim.log" &
  sim_pid=$!
  bash "$root/infra/check.sh" || check=$?
  wait "$sim_pid" || sim=$?
  cat "$scratch/sim.log"
  [ "$check" -eq 0 ] && [ "$sim" -eq 0 ]
}
export -f infrastructure_checks
step "chromium if missing, infrastructure checks, the AWS stack applied to a simulated AWS (moto): in the background"
setsid bash -c 'set -o pipefail; infrastructure_checks "$@" 2>&1 | stamp' infra "$ROOT" "$scratch" >"$scratch/infra.log" 2>&1 &
infra_pid=$!

step "cargo fmt --check; no Rust source over 400 lines"
cargo fmt --all -- --check
# A file that long does more than one thing: split it by what each part does.
long=$(git -C "$ROOT" ls-files -z '*.rs' | (cd "$ROOT" && xargs -0 wc -l) | awk '$2 != "total" && $1 > 400')
if [ -n "$long" ]; then
  echo "over 400 lines: $long"
  exit 1
fi
step "cargo deny (advisories from the offline snapshot, licences, bans, sources)"
bash "$ROOT/infra/local/deny.sh"

# A free port below the ephemeral range (32768-60999; infra/local/topology.toml says why);
# the stacks started later check that theirs are free.
port=$(python3 -c '
import random, socket
while True:
    port = random.randrange(10000, 32768)
    try:
        socket.create_server(("127.0.0.1", port)).close()
        print(port)
        break
    except OSError:
        pass
')
bash "$PG" init "$scratch/pg"
bash "$PG" start "$scratch/pg" "$port" fast
export LOYALTY_TEST_PG_URL="postgres://postgres@127.0.0.1:$port"

step "api/src/db/schema.rs against the migrations (diesel print-schema)"
# Before the exports below: they would have a `cargo install diesel_cli` linted as ours.
bash "$ROOT/infra/local/schema.sh"

# Clippy lints our crates as the build compiles them (clippy-driver as the workspace's
# rustc wrapper; CLIPPY_ARGS is how `cargo clippy -- -D warnings` hands the driver its
# flags). A `cargo clippy` pass before the build checked every dependency once more, in
# check mode: a fresh clone's run took 13m32s with it and 13m05s without. Exported, so
# every cargo command below (the tests, the drills) finds the same artifacts.
export RUSTC_WORKSPACE_WRAPPER=clippy-driver
export CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# CLIPPY_ARGS is cargo-clippy's own channel to the driver, not a documented interface. A
# lint that the driver passes without it and refuses with it proves it is still heard, so
# a clippy release that changes it fails here instead of letting warnings through.
printf 'fn main() {\n    let v = [1];\n    if v.len() == 0 {}\n}\n' >"$scratch/probe.rs"
probe() { clippy-driver --edition 2024 --crate-type bin --emit=metadata -o "$scratch/probe.rmeta" "$scratch/probe.rs"; }
denied=$(probe 2>&1 || true)
if ! CLIPPY_ARGS= probe 2>/dev/null || [[ $denied != *'clippy::len-zero` implied by `-D warnings`'* ]]; then
  echo "clippy-driver does not deny warnings through CLIPPY_ARGS: lints would pass unseen" >&2
  exit 1
fi
# One build serves every cargo command below: the binaries (the stack tests start them
# through up.sh), the tests, and the API as the cloud builds it, with IAM database auth
# (`--features iam`, docs/DEPLOY.md). Cargo resolves features per command, and a build
# of the tests adds what the dev-dependencies ask of shared crates: a `cargo build --bins`
# before the test build compiled 140 crates twice, with two feature sets (577 units, not
# 437), and the IAM build a third time. Every command takes the same selection, so none
# compiles anything again.
cargo_args=(--workspace --locked --features api/iam)
step "building and linting (clippy) the binaries and the tests, the API with IAM database auth"
cargo build "${cargo_args[@]}" --bins --tests

# The infrastructure checks finish while the tests run (most of their time is spent waiting
# on terraform and moto); the drills wait for them, so nothing else loads the machine then.
wait_for_infrastructure() {
  step "waiting for the infrastructure checks"
  local infra_status=0
  wait "$infra_pid" || infra_status=$?
  infra_pid=
  cat "$scratch/infra.log"
  if [ "$infra_status" -ne 0 ]; then
    echo "infrastructure checks failed (exit $infra_status)" >&2
    exit "$infra_status"
  fi
}

while [ ! -e "$scratch/browser.done" ] && kill -0 "$infra_pid" 2>/dev/null; do sleep 1; done
step "tests (throwaway Postgres on port $port)"
if cargo nextest --version >/dev/null 2>&1; then
  # The failure drills compare throughput before, during and after a fault: they run
  # afterwards, one at a time, with nothing else loading the machine.
  status=0
  cargo nextest run "${cargo_args[@]}" --no-fail-fast -E 'not test(/^drills::/)' || status=$?
  wait_for_infrastructure
  step "failure drills, one at a time"
  cargo nextest run "${cargo_args[@]}" --no-fail-fast -E 'binary_id(system::system) & test(/^drills::/)' \
    --test-threads 1 || status=$?
  step "done"
  exit $status
else
  cargo test "${cargo_args[@]}" --no-fail-fast
  wait_for_infrastructure
fi
