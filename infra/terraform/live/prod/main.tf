# Production: regions 001/002/003 in three AWS regions, the routers in front of them
# (in region 001's AWS region). The network (docs/DEPLOY.md): every VPC is private; the
# router VPC peers with each region's VPC, and the regions peer with each other (the
# outbox relay, cross-region pricing); a private hosted zone, associated with all four
# VPCs, names each region's internal load balancer api-<code>.<internal_domain>. Security
# groups allow HTTPS to those load balancers only; AWS APIs through VPC endpoints.
# The provider constraint: versions.tf, a link to the modules' one.
terraform {
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
  # Each region's daily audit from its quietest hour (UTC): about 3 a.m. local.
  audit_hours = { "001" = 2, "002" = 8, "003" = 18 }
  # Internal URLs are known up front (DNS names under the deployment's zone), so every
  # region can be told where the others are without a dependency cycle.
  peers = { for id, name in local.names : id => { name = name, url = "https://api-${id}.${var.internal_domain}" } }
  # Routers and the other regions reach a region's internal ALB over peering.
  internal_allowed = concat([var.router_vpc_cidr], values(local.cidrs))
  tags             = { "loyalty:environment" = "prod" }
}

module "region_001" {
  source    = "../../modules/region"
  providers = { aws = aws.r001, aws.backup = aws.r002 }

  region_id               = "001"
  vpc_cidr                = local.cidrs["001"]
  internal_allowed_cidrs  = local.internal_allowed
  certificate_arn         = var.certificate_arns["001"]
  api_ami_id              = var.api_ami_ids["001"]
  api_release             = merge(var.api_release, { bucket = var.release_buckets["001"] })
  rds_ca_bundle           = merge(var.rds_ca_bundle, { bucket = var.release_buckets["001"] })
  internal_ca_bundle      = merge(var.internal_ca_bundle, { bucket = var.release_buckets["001"] })
  peer_region_cidrs       = [for id, cidr in local.cidrs : cidr if id != "001"]
  deletion_protection     = var.deletion_protection
  migration_principals    = var.migration_principals
  kms_key_arn             = var.kms_key_arns["001"]
  backup_copy             = { kms_key_arn = var.kms_key_arns["002"], enabled = var.copy_backups }
  access_logs_bucket      = var.access_logs_buckets["001"]
  signing_key_parameter   = "${var.signing_key_parameter_prefix}/001"
  audit_hour_utc          = local.audit_hours["001"]
  verifying_keys          = var.token_verifying_keys
  service_token_parameter = var.service_token_parameter
  peers                   = local.peers
  alarm_emails            = var.alarm_emails
  tags                    = local.tags
}

module "region_002" {
  source    = "../../modules/region"
  providers = { aws = aws.r002, aws.backup = aws.r003 }

  region_id               = "002"
  vpc_cidr                = local.cidrs["002"]
  internal_allowed_cidrs  = local.internal_allowed
  certificate_arn         = var.certificate_arns["002"]
  api_ami_id              = var.api_ami_ids["002"]
  api_release             = merge(var.api_release, { bucket = var.release_buckets["002"] })
  rds_ca_bundle           = merge(var.rds_ca_bundle, { bucket = var.release_buckets["002"] })
  internal_ca_bundle      = merge(var.internal_ca_bundle, { bucket = var.release_buckets["002"] })
  peer_region_cidrs       = [for id, cidr in local.cidrs : cidr if id != "002"]
  deletion_protection     = var.deletion_protection
  migration_principals    = var.migration_principals
  kms_key_arn             = var.kms_key_arns["002"]
  backup_copy             = { kms_key_arn = var.kms_key_arns["003"], enabled = var.copy_backups }
  access_logs_bucket      = var.access_logs_buckets["002"]
  signing_key_parameter   = "${var.signing_key_parameter_prefix}/002"
  audit_hour_utc          = local.audit_hours["002"]
  verifying_keys          = var.token_verifying_keys
  service_token_parameter = var.service_token_parameter
  peers                   = local.peers
  alarm_emails            = var.alarm_emails
  tags                    = local.tags
}

module "region_003" {
  source    = "../../modules/region"
  providers = { aws = aws.r003, aws.backup = aws.r001 }

  region_id               = "003"
  vpc_cidr                = local.cidrs["003"]
  internal_allowed_cidrs  = local.internal_allowed
  certificate_arn         = var.certificate_arns["003"]
  api_ami_id              = var.api_ami_ids["003"]
  api_release             = merge(var.api_release, { bucket = var.release_buckets["003"] })
  rds_ca_bundle           = merge(var.rds_ca_bundle, { bucket = var.release_buckets["003"] })
  internal_ca_bundle      = merge(var.internal_ca_bundle, { bucket = var.release_buckets["003"] })
  peer_region_cidrs       = [for id, cidr in local.cidrs : cidr if id != "003"]
  deletion_protection     = var.deletion_protection
  migration_principals    = var.migration_principals
  kms_key_arn             = var.kms_key_arns["003"]
  backup_copy             = { kms_key_arn = var.kms_key_arns["001"], enabled = var.copy_backups }
  access_logs_bucket      = var.access_logs_buckets["003"]
  signing_key_parameter   = "${var.signing_key_parameter_prefix}/003"
  audit_hour_utc          = local.audit_hours["003"]
  verifying_keys          = var.token_verifying_keys
  service_token_parameter = var.service_token_parameter
  peers                   = local.peers
  alarm_emails            = var.alarm_emails
  tags                    = local.tags
}

module "router" {
  source    = "../../modules/router"
  providers = { aws = aws.r001 }

  vpc_cidr        = var.router_vpc_cidr
  certificate_arn = var.public_certificate_arn
  router_ami_id   = var.api_ami_ids["001"]
  releases = {
    router  = merge(var.router_release, { bucket = var.release_buckets["001"] })
    console = merge(var.console_release, { bucket = var.release_buckets["001"] })
  }
  console_host                  = var.console_host
  internal_ca_bundle            = merge(var.internal_ca_bundle, { bucket = var.release_buckets["001"] })
  region_cidrs                  = values(local.cidrs)
  deletion_protection           = var.deletion_protection
  service_token_parameter       = var.service_token_parameter
  proxy_token_parameter         = var.proxy_token_parameter
  regions                       = local.peers
  verifying_keys                = var.token_verifying_keys
  console_session_key_parameter = var.console_session_key_parameter
  kms_key_arn                   = var.kms_key_arns["001"]
  access_logs_bucket            = var.access_logs_buckets["001"]
  alarm_emails                  = var.alarm_emails
  tags                          = local.tags
}

# Who reaches whom: router -> every region, and every region -> every other region.
locals {
  vpcs = {
    router = module.router.peering_side
    "001"  = module.region_001.peering_side
    "002"  = module.region_002.peering_side
    "003"  = module.region_003.peering_side
  }
}

module "peering_router_001" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.r001, aws.accepter = aws.r001 }
  name      = "loyalty-router-001"
  requester = local.vpcs.router
  accepter  = merge(local.vpcs["001"], { aws_region = var.aws_regions["001"] })
  tags      = local.tags
}

module "peering_router_002" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.r001, aws.accepter = aws.r002 }
  name      = "loyalty-router-002"
  requester = local.vpcs.router
  accepter  = merge(local.vpcs["002"], { aws_region = var.aws_regions["002"] })
  tags      = local.tags
}

module "peering_router_003" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.r001, aws.accepter = aws.r003 }
  name      = "loyalty-router-003"
  requester = local.vpcs.router
  accepter  = merge(local.vpcs["003"], { aws_region = var.aws_regions["003"] })
  tags      = local.tags
}

module "peering_001_002" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.r001, aws.accepter = aws.r002 }
  name      = "loyalty-001-002"
  requester = local.vpcs["001"]
  accepter  = merge(local.vpcs["002"], { aws_region = var.aws_regions["002"] })
  tags      = local.tags
}

module "peering_001_003" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.r001, aws.accepter = aws.r003 }
  name      = "loyalty-001-003"
  requester = local.vpcs["001"]
  accepter  = merge(local.vpcs["003"], { aws_region = var.aws_regions["003"] })
  tags      = local.tags
}

module "peering_002_003" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.r002, aws.accepter = aws.r003 }
  name      = "loyalty-002-003"
  requester = local.vpcs["002"]
  accepter  = merge(local.vpcs["003"], { aws_region = var.aws_regions["003"] })
  tags      = local.tags
}

# The internal names, resolvable from all four VPCs (Route 53 is global; a private zone
# can be associated with VPCs of other AWS regions).
resource "aws_route53_zone" "internal" {
  #checkov:skip=CKV2_AWS_38:DNSSEC signing is not available for private hosted zones
  #checkov:skip=CKV2_AWS_39:query logging of the private zone is the resolver's (VPC flow logs cover the traffic)
  provider = aws.r001
  name     = var.internal_domain
  comment  = "Internal names of the loyalty regions"
  dynamic "vpc" {
    for_each = { router = "001", "001" = "001", "002" = "002", "003" = "003" }
    content {
      vpc_id     = local.vpcs[vpc.key].vpc_id
      vpc_region = var.aws_regions[vpc.value]
    }
  }
  tags = local.tags
}

resource "aws_route53_record" "api" {
  for_each = {
    "001" = module.region_001.internal_alb
    "002" = module.region_002.internal_alb
    "003" = module.region_003.internal_alb
  }
  provider = aws.r001
  zone_id  = aws_route53_zone.internal.zone_id
  name     = "api-${each.key}.${var.internal_domain}"
  type     = "A"
  alias {
    name                   = each.value.dns_name
    zone_id                = each.value.zone_id
    evaluate_target_health = true
  }
}
