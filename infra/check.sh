#!/usr/bin/env bash
# Offline checks of the AWS deployment: terraform fmt, init/validate/test for every
# module and root (mock providers, no credentials), and checkov with zero failed checks.
# Uses the AWS provider from the local mirror (TF_PLUGIN_MIRROR, default /opt/tf-plugins);
# where terraform or the mirror is missing, says so and skips those steps.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TF_DIR=$ROOT/infra/terraform
STATE=${LOYALTY_STATE_DIR:-$ROOT/.local}
mkdir -p "$STATE"
# shellcheck source=tf-mirror.sh
. "$ROOT/infra/tf-mirror.sh"

if ! command -v terraform >/dev/null; then
  echo "infra/check.sh: terraform is not installed; skipping the terraform checks"
elif ! tf_mirror_ready; then
  echo "infra/check.sh: no AWS provider mirror at $MIRROR; skipping the terraform checks"
else
  tf_use_mirror "$STATE/terraform.tfrc"
  export TF_DATA_DIR_BASE=$STATE/terraform
  echo "==> terraform fmt -check -recursive"
  terraform -chdir="$TF_DIR" fmt -check -recursive -diff
  for dir in modules/network modules/region modules/router live/prod; do
    echo "==> terraform init, validate, test: $dir"
    export TF_DATA_DIR=$TF_DATA_DIR_BASE/${dir//\//_}
    terraform -chdir="$TF_DIR/$dir" init -backend=false -input=false -no-color >/dev/null
    # A module that takes a provider alias (region's aws.backup) cannot be validated on
    # its own: live/prod, which passes it one, validates it, and its tests configure one.
    if ! grep -q configuration_aliases "$TF_DIR/$dir/versions.tf"; then
      terraform -chdir="$TF_DIR/$dir" validate -no-color
    fi
    terraform -chdir="$TF_DIR/$dir" test -no-color
  done
  unset TF_DATA_DIR
fi

echo "==> checkov"
venv=$(bash "$ROOT/infra/local/venv.sh" checkov)
"$venv/bin/checkov" -d "$TF_DIR" --framework terraform --skip-download --quiet --compact
