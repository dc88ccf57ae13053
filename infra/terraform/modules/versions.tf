# The provider constraint of every module here, written once: each module's versions.tf
# and live/prod/versions.tf are links to this file (peering and region declare their own,
# for their provider aliases).
terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
