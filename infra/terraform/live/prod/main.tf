# Production: regions 001/002/003 in three AWS regions, the routers in front of them.
terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
  # State in S3 with locking; `terraform init -backend-config=backend.hcl`.
  backend "s3" {}
}

provider "aws" {
  alias  = "r001"
  region = var.aws_regions["001"]
}

provider "aws" {
  alias  = "r002"
  region = var.aws_regions["002"]
}

provider "aws" {
  alias  = "r003"
  region = var.aws_regions["003"]
}

locals {
  names = { "001" = "Europe", "002" = "Americas", "003" = "Asia-Pacific" }
  cidrs = { "001" = "10.1.0.0/16", "002" = "10.2.0.0/16", "003" = "10.3.0.0/16" }
  # Internal URLs are known up front (DNS names under the deployment's zone), so every
  # region can be told where the others are without a dependency cycle.
  peers = { for id, name in local.names : id => { name = name, url = "https://api-${id}.${var.internal_domain}" } }
  # Routers and the other regions reach a region's internal ALB over peering.
  internal_allowed = concat([var.router_vpc_cidr], values(local.cidrs))
  tags             = { "loyalty:environment" = "prod" }
}

module "region_001" {
  source    = "../../modules/region"
  providers = { aws = aws.r001 }

  region_id               = "001"
  vpc_cidr                = local.cidrs["001"]
  internal_allowed_cidrs  = local.internal_allowed
  certificate_arn         = var.certificate_arns["001"]
  api_ami_id              = var.api_ami_ids["001"]
  api_release_url         = var.api_release_url
  kms_key_arn             = var.kms_key_arns["001"]
  access_logs_bucket      = var.access_logs_buckets["001"]
  signing_key_parameter   = "${var.signing_key_parameter_prefix}/001"
  verifying_keys          = var.token_verifying_keys
  service_token_parameter = var.service_token_parameter
  peers                   = local.peers
  tags                    = local.tags
}

module "region_002" {
  source    = "../../modules/region"
  providers = { aws = aws.r002 }

  region_id               = "002"
  vpc_cidr                = local.cidrs["002"]
  internal_allowed_cidrs  = local.internal_allowed
  certificate_arn         = var.certificate_arns["002"]
  api_ami_id              = var.api_ami_ids["002"]
  api_release_url         = var.api_release_url
  kms_key_arn             = var.kms_key_arns["002"]
  access_logs_bucket      = var.access_logs_buckets["002"]
  signing_key_parameter   = "${var.signing_key_parameter_prefix}/002"
  verifying_keys          = var.token_verifying_keys
  service_token_parameter = var.service_token_parameter
  peers                   = local.peers
  tags                    = local.tags
}

module "region_003" {
  source    = "../../modules/region"
  providers = { aws = aws.r003 }

  region_id               = "003"
  vpc_cidr                = local.cidrs["003"]
  internal_allowed_cidrs  = local.internal_allowed
  certificate_arn         = var.certificate_arns["003"]
  api_ami_id              = var.api_ami_ids["003"]
  api_release_url         = var.api_release_url
  kms_key_arn             = var.kms_key_arns["003"]
  access_logs_bucket      = var.access_logs_buckets["003"]
  signing_key_parameter   = "${var.signing_key_parameter_prefix}/003"
  verifying_keys          = var.token_verifying_keys
  service_token_parameter = var.service_token_parameter
  peers                   = local.peers
  tags                    = local.tags
}

module "router" {
  source    = "../../modules/router"
  providers = { aws = aws.r001 }

  vpc_cidr                = var.router_vpc_cidr
  certificate_arn         = var.public_certificate_arn
  router_ami_id           = var.api_ami_ids["001"]
  router_release_url      = var.router_release_url
  service_token_parameter = var.service_token_parameter
  regions                 = local.peers
  kms_key_arn             = var.kms_key_arns["001"]
  access_logs_bucket      = var.access_logs_buckets["001"]
  tags                    = local.tags
}
