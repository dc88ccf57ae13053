locals {
  name = "loyalty-router"
  tags = merge(var.tags, { "loyalty:role" = "router" })
  # The router's configuration file: one [[regions]] table per region, and the regions'
  # token public keys, with which it refuses a made-up token before any region hears of it.
  topology = join("\n", concat(
    ["[tls]\nca_file = \"/etc/loyalty/internal-ca.pem\"\n"],
    [for id, region in var.regions : "[[regions]]\nid = \"${id}\"\nname = \"${region.name}\"\nurls = [\"${region.url}\"]\n"],
    ["[auth.verifying_keys]"],
    [for kid, key in var.verifying_keys : "${kid} = \"${key}\""],
  ))
  # The console runs beside each router and calls it on loopback.
  console_port = 8088
  artefacts = [
    merge(var.releases.router, { path = "/opt/loyalty/loyalty-router", mode = "0755" }),
    merge(var.releases.console, { path = "/opt/loyalty/loyalty-web", mode = "0755" }),
    merge(var.internal_ca_bundle, { path = "/etc/loyalty/internal-ca.pem", mode = "0644" }),
  ]
}

# Public subnets hold only the ALB; router instances live in the private ones.
module "network" {
  source         = "../network"
  name           = local.name
  cidr           = var.vpc_cidr
  public_subnets = true
  kms_key_arn    = var.kms_key_arn
  tags           = local.tags
}

resource "aws_security_group" "alb" {
  name        = "${local.name}-public-alb"
  description = "Public ALB: HTTPS and the HTTP redirect from anywhere"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  #checkov:skip=CKV_AWS_260:port 80 is open only for the listener that redirects to HTTPS
  for_each          = toset(["80", "443"])
  security_group_id = aws_security_group.alb.id
  description       = "Port ${each.value} from clients"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  ip_protocol       = "tcp"
}

# The router (8080) and the web console beside it (8088).
resource "aws_vpc_security_group_egress_rule" "alb_to_routers" {
  for_each                     = toset(["8080", tostring(local.console_port)])
  security_group_id            = aws_security_group.alb.id
  description                  = "To the router instances, port ${each.value}"
  referenced_security_group_id = aws_security_group.router.id
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "router" {
  name        = "${local.name}-instances"
  description = "Router instances: from the public ALB, to the regions' internal ALBs"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "router_from_alb" {
  for_each                     = toset(["8080", tostring(local.console_port)])
  security_group_id            = aws_security_group.router.id
  description                  = "From the public ALB, port ${each.value}"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  ip_protocol                  = "tcp"
}

# HTTPS out to this VPC (interface endpoints), S3 (gateway endpoint) and the regions'
# internal load balancers (peered CIDRs); nothing else.
resource "aws_vpc_security_group_egress_rule" "router_https" {
  for_each          = toset(concat([var.vpc_cidr], var.region_cidrs))
  security_group_id = aws_security_group.router.id
  description       = "HTTPS to ${each.value}"
  cidr_ipv4         = each.value
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "router_s3" {
  security_group_id = aws_security_group.router.id
  description       = "HTTPS to S3 through the gateway endpoint"
  prefix_list_id    = module.network.s3_prefix_list_id
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_lb" "public" {
  #checkov:skip=CKV2_AWS_28:WAF rules belong to the edge team's shared web ACL, attached outside this stack
  name                       = "loyalty-public"
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = module.network.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = "public-alb"
    enabled = true
  }
  tags = local.tags
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.public.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
  tags = local.tags
}

module "router" {
  source             = "../service"
  name               = local.name
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [aws_security_group.router.id]
  ami_id             = var.router_ami_id
  instance_type      = var.router_instance_type
  min_size           = var.router_min_size
  max_size           = var.router_max_size
  volume_size        = 10
  kms_key_arn        = var.kms_key_arn
  load_balancer_arn  = aws_lb.public.arn
  certificate_arn    = var.certificate_arn
  # /readyz is false only while no region answers, when new routers would not help.
  health_check_grace_period = 30
  alarm_emails              = var.alarm_emails
  log_services              = ["loyalty-router", "loyalty-web"]
  host_routes = {
    console = { port = local.console_port, host = var.console_host, health_path = "/healthz" }
  }
  policy_statements = [
    {
      Effect   = "Allow", Action = ["ssm:GetParameter"],
      Resource = [for p in [var.service_token_parameter, var.proxy_token_parameter, var.console_session_key_parameter] : "arn:aws:ssm:*:*:parameter${p}"]
    },
    { Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.kms_key_arn },
    { Effect = "Allow", Action = ["s3:GetObject"], Resource = [for f in local.artefacts : "arn:aws:s3:::${f.bucket}/${f.key}"] }
  ]
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    fetch                         = templatefile("${path.module}/../fetch.sh.tftpl", { files = local.artefacts })
    service_token_parameter       = var.service_token_parameter
    proxy_token_parameter         = var.proxy_token_parameter
    console_session_key_parameter = var.console_session_key_parameter
    console_port                  = local.console_port
    vpc_cidr                      = var.vpc_cidr
    topology                      = local.topology
    liveness                      = templatefile("${path.module}/../liveness.sh.tftpl", { service = "loyalty-router", port = 8080 })
  })
  tags = local.tags
}

# Where these lived before the service module: moved, not replaced, in a running deployment.
moved {
  from = aws_iam_role.router
  to   = module.router.aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.router
  to   = module.router.aws_iam_role_policy.this
}
moved {
  from = aws_iam_instance_profile.router
  to   = module.router.aws_iam_instance_profile.this
}
moved {
  from = aws_launch_template.router
  to   = module.router.aws_launch_template.this
}
moved {
  from = aws_lb_target_group.router
  to   = module.router.aws_lb_target_group.this
}
moved {
  from = aws_lb_listener.https
  to   = module.router.aws_lb_listener.https
}
moved {
  from = aws_autoscaling_group.router
  to   = module.router.aws_autoscaling_group.this
}
moved {
  from = aws_vpc_security_group_egress_rule.alb_to_routers
  to   = aws_vpc_security_group_egress_rule.alb_to_routers["8080"]
}
moved {
  from = aws_vpc_security_group_ingress_rule.router_from_alb
  to   = aws_vpc_security_group_ingress_rule.router_from_alb["8080"]
}
