#!/usr/bin/env bash
# Prints the path of a Python virtualenv named NAME holding PACKAGES (from PyPI), making
# it first where it is missing or was made for other packages. The venvs live in
# LOYALTY_TOOLS_DIR (CI keeps one outside the clone), else in the state folder.
# Usage: venv.sh NAME PACKAGE...
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
name=$1
shift
dir=${LOYALTY_TOOLS_DIR:-${LOYALTY_STATE_DIR:-$ROOT/.local}}
venv=$dir/$name-venv
if [ "$(cat "$venv/.packages" 2>/dev/null)" != "$*" ]; then
  echo "==> installing $* from PyPI into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$dir"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "$@" >&2
  # Written last: a venv whose install was cut off is made again next time.
  echo "$*" >"$venv/.packages"
fi
echo "$venv"
