#!/usr/bin/env bash
# Prints the path of the Python virtualenv of TOOL, made from PyPI with the packages pinned
# for it below, first where it is missing or was made with other pins. Every script that
# needs one of these tools asks here, so a pin changes in one place. The venvs live in
# LOYALTY_TOOLS_DIR (CI keeps one outside the clone), else in the state folder.
# Usage: venv.sh checkov|moto|schemathesis
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tool=$1
case "$tool" in
  checkov) packages=(checkov==3.3.30) ;;
  moto) packages=('moto[server]==5.2.1' boto3==1.44.8) ;;
  schemathesis) packages=(schemathesis==4.32.5) ;;
  *) echo "venv.sh: no pins for $tool" >&2; exit 2 ;;
esac
dir=${LOYALTY_TOOLS_DIR:-${LOYALTY_STATE_DIR:-$ROOT/.local}}
venv=$dir/$tool-venv
if [ "$(cat "$venv/.packages" 2>/dev/null)" != "${packages[*]}" ]; then
  echo "==> installing ${packages[*]} from PyPI into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$dir"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "${packages[@]}" >&2
  # Written last: a venv whose install was cut off is made again next time.
  echo "${packages[*]}" >"$venv/.packages"
fi
echo "$venv"
