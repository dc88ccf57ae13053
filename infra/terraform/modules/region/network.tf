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

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "API instances of region ${var.region_id}"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
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

locals {
  groups = {
    alb        = aws_security_group.alb.id
    api        = aws_security_group.api.id
    db         = aws_security_group.db.id
    migrations = aws_security_group.migrations.id
  }
  # Every connection between the region's own groups, once: each row is the egress rule
  # of the group that connects and the ingress rule of the group it reaches, so the two
  # sides cannot drift apart. Nothing else reaches the database.
  connections = {
    alb_to_api       = { from = "alb", to = "api", port = 8080, out = "To the API instances", in = "From the internal ALB" }
    api_to_db        = { from = "api", to = "db", port = 5432, out = "To the region's database", in = "Postgres from the API instances only" }
    migrations_to_db = { from = "migrations", to = "db", port = 5432, out = "To the region's database", in = "Postgres from migration runs" }
  }
}

resource "aws_vpc_security_group_egress_rule" "connection" {
  for_each                     = local.connections
  security_group_id            = local.groups[each.value.from]
  description                  = each.value.out
  referenced_security_group_id = local.groups[each.value.to]
  from_port                    = each.value.port
  to_port                      = each.value.port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "connection" {
  for_each                     = local.connections
  security_group_id            = local.groups[each.value.to]
  description                  = each.value.in
  referenced_security_group_id = local.groups[each.value.from]
  from_port                    = each.value.port
  to_port                      = each.value.port
  ip_protocol                  = "tcp"
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

# HTTPS out to exactly three kinds of place: this VPC (the interface endpoints of SSM,
# logs, KMS, STS), S3 (the gateway endpoint's prefix list), and, for the API, the other
# regions' internal load balancers (peered CIDRs).
resource "aws_vpc_security_group_egress_rule" "api_https" {
  for_each          = toset(concat([var.vpc_cidr], var.peer_region_cidrs))
  security_group_id = aws_security_group.api.id
  description       = "HTTPS to ${each.value}"
  cidr_ipv4         = each.value
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "migrations_https" {
  security_group_id = aws_security_group.migrations.id
  description       = "HTTPS to the VPC's endpoints"
  cidr_ipv4         = var.vpc_cidr
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  for_each          = toset(["api", "migrations"])
  security_group_id = local.groups[each.value]
  description       = "HTTPS to S3 (releases) through the gateway endpoint"
  prefix_list_id    = module.network.s3_prefix_list_id
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

# The addresses these rules had while each was written out: moved, not replaced, in a
# running deployment.
moved {
  from = aws_vpc_security_group_egress_rule.alb_to_api
  to   = aws_vpc_security_group_egress_rule.connection["alb_to_api"]
}
moved {
  from = aws_vpc_security_group_ingress_rule.api_from_alb
  to   = aws_vpc_security_group_ingress_rule.connection["alb_to_api"]
}
moved {
  from = aws_vpc_security_group_egress_rule.api_to_db
  to   = aws_vpc_security_group_egress_rule.connection["api_to_db"]
}
moved {
  from = aws_vpc_security_group_ingress_rule.db_from_api
  to   = aws_vpc_security_group_ingress_rule.connection["api_to_db"]
}
moved {
  from = aws_vpc_security_group_egress_rule.migrations_to_db
  to   = aws_vpc_security_group_egress_rule.connection["migrations_to_db"]
}
moved {
  from = aws_vpc_security_group_ingress_rule.db_from_migrations
  to   = aws_vpc_security_group_ingress_rule.connection["migrations_to_db"]
}
moved {
  from = aws_vpc_security_group_egress_rule.api_s3
  to   = aws_vpc_security_group_egress_rule.s3["api"]
}
moved {
  from = aws_vpc_security_group_egress_rule.migrations_s3
  to   = aws_vpc_security_group_egress_rule.s3["migrations"]
}
