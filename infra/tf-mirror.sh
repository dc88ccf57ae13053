# Sourced by infra/check.sh and infra/sim/sim.sh. Terraform here installs the AWS provider
# from a local mirror only (TF_PLUGIN_MIRROR, default /opt/tf-plugins): this machine
# reaches no provider registry.
MIRROR=${TF_PLUGIN_MIRROR:-/opt/tf-plugins}

# True when terraform and the mirror's AWS provider are both here.
tf_mirror_ready() {
  command -v terraform >/dev/null && [ -d "$MIRROR/registry.terraform.io/hashicorp/aws" ]
}

# Writes a CLI configuration that installs providers from the mirror and nowhere else into
# $1, and points terraform at it.
tf_use_mirror() {
  export TF_CLI_CONFIG_FILE=$1 TF_IN_AUTOMATION=1
  cat >"$TF_CLI_CONFIG_FILE" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
}
