#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (deny.toml): advisories against the offline RustSec
# snapshot, licences, banned crates, sources. Installs cargo-deny from crates.io if it is
# missing (about 2 minutes on 2 cores). The snapshot (ADVISORY_DB, default
# ../shared/advisory-db) is a plain folder; cargo-deny wants a git repository at
# <db-path>/advisory-db-3157b0e258782691 (the folder it would clone the default URL
# into), so it is copied there and committed once per snapshot.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SNAPSHOT=${ADVISORY_DB:-$ROOT/../shared/advisory-db}
DB=$ROOT/.local/advisory-dbs/advisory-db-3157b0e258782691

if ! cargo deny --version >/dev/null 2>&1; then
  echo "==> installing cargo-deny from crates.io"
  cargo install cargo-deny --locked --version 0.20.2
fi
if [ ! -d "$SNAPSHOT/crates" ]; then
  echo "no advisory database snapshot at $SNAPSHOT (set ADVISORY_DB)" >&2
  exit 1
fi
stamp=$(sha256sum "$SNAPSHOT/SNAPSHOT.md" | cut -c1-16)
if [ "$(cat "$DB.snapshot" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$DB"
  mkdir -p "$(dirname "$DB")"
  cp -r "$SNAPSHOT" "$DB"
  git -C "$DB" init -q
  git -C "$DB" add -A
  git -C "$DB" -c user.name=deny.sh -c user.email=deny@localhost commit -qm "RustSec snapshot"
  echo "$stamp" >"$DB.snapshot"
fi
# cargo-deny reads the whole dependency graph, other platforms' crates included (rustls's
# platform verifier has Android-only ones a build never downloads).
cargo fetch --locked -q
cargo deny --offline --locked check
