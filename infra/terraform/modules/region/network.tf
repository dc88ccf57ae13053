locals {
  name = "loyalty-${var.region_id}"
  tags = merge(var.tags, { "loyalty:region" = var.region_id })
}

# Private subnets only: instances reach S3/SSM/logs/KMS/STS through VPC endpoints, the
# other regions through peering; clients reach the region through the routers' public
# ALB and this region's internal ALB.
module "network" {
  source      = "../network"
  name        = local.name
  cidr        = var.vpc_cidr
  kms_key_arn = var.kms_key_arn
  tags        = local.tags
}

resource "aws_security_group" "alb" {
  name        = "${local.name}-internal-alb"
  description = "Internal ALB of region ${var.region_id}: HTTPS from the routers and peer regions"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.internal_allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from ${each.value}"
  cidr_ipv4         = each.value
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API instances"
  referenced_security_group_id = aws_security_group.api.id
  from_port                    = 8080
  to_port                      = 8080
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "API instances of region ${var.region_id}"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "From the internal ALB"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = 8080
  to_port                      = 8080
  ip_protocol                  = "tcp"
}

# HTTPS out to exactly three kinds of place: this VPC (the interface endpoints of SSM,
# logs, KMS, STS), S3 (the gateway endpoint's prefix list), and the other regions'
# internal load balancers (peered CIDRs).
resource "aws_vpc_security_group_egress_rule" "api_https" {
  for_each          = toset(concat([var.vpc_cidr], var.peer_region_cidrs))
  security_group_id = aws_security_group.api.id
  description       = "HTTPS to ${each.value}"
  cidr_ipv4         = each.value
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "api_s3" {
  security_group_id = aws_security_group.api.id
  description       = "HTTPS to S3 through the gateway endpoint"
  prefix_list_id    = module.network.s3_prefix_list_id
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "api_to_db" {
  security_group_id            = aws_security_group.api.id
  description                  = "To the region's database"
  referenced_security_group_id = aws_security_group.db.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "Postgres of region ${var.region_id}: only the region's API instances"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

# Where the deploy runs migrations from (a one-off task or instance): Postgres to the
# database and HTTPS to the VPC's endpoints and S3, nothing else.
resource "aws_security_group" "migrations" {
  #checkov:skip=CKV2_AWS_5:attached by the deploy to its one-off migration run, outside this stack (docs/DEPLOY.md)
  name        = "${local.name}-migrations"
  description = "One-off migration runs of region ${var.region_id}: to the database only"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_egress_rule" "migrations_to_db" {
  security_group_id            = aws_security_group.migrations.id
  description                  = "To the region's database"
  referenced_security_group_id = aws_security_group.db.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "migrations_https" {
  security_group_id = aws_security_group.migrations.id
  description       = "HTTPS to the VPC's endpoints"
  cidr_ipv4         = var.vpc_cidr
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "migrations_s3" {
  security_group_id = aws_security_group.migrations.id
  description       = "HTTPS to S3 (the release) through the gateway endpoint"
  prefix_list_id    = module.network.s3_prefix_list_id
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_migrations" {
  security_group_id            = aws_security_group.db.id
  description                  = "Postgres from migration runs"
  referenced_security_group_id = aws_security_group.migrations.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_api" {
  security_group_id            = aws_security_group.db.id
  description                  = "Postgres from the API instances only"
  referenced_security_group_id = aws_security_group.api.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}
