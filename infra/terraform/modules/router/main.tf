locals {
  name = "loyalty-router"
  tags = merge(var.tags, { "loyalty:role" = "router" })
  # The router's configuration file: one [[regions]] table per region.
  topology = join("\n", concat(
    ["[tls]\nca_file = \"/etc/loyalty/internal-ca.pem\"\n"],
    [for id, region in var.regions : "[[regions]]\nid = \"${id}\"\nname = \"${region.name}\"\nurls = [\"${region.url}\"]\n"],
  ))
  artefacts = [
    merge(var.router_release, { path = "/opt/loyalty/loyalty-router", mode = "0755" }),
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

resource "aws_vpc_security_group_egress_rule" "alb_to_routers" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the router instances"
  referenced_security_group_id = aws_security_group.router.id
  from_port                    = 8080
  to_port                      = 8080
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "router" {
  name        = "${local.name}-instances"
  description = "Router instances: from the public ALB, to the regions' internal ALBs"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "router_from_alb" {
  security_group_id            = aws_security_group.router.id
  description                  = "From the public ALB"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = 8080
  to_port                      = 8080
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

resource "aws_lb_target_group" "router" {
  name                 = local.name
  port                 = 8080
  protocol             = "HTTP"
  vpc_id               = module.network.vpc_id
  deregistration_delay = 15
  health_check {
    path                = "/readyz"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
    matcher             = "200"
  }
  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.public.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.router.arn
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

resource "aws_iam_role" "router" {
  name = local.name
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "router" {
  role = aws_iam_role.router.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["ssm:GetParameter"], Resource = "arn:aws:ssm:*:*:parameter${var.service_token_parameter}" },
      { Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.kms_key_arn },
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = [for f in local.artefacts : "arn:aws:s3:::${f.bucket}/${f.key}"] }
    ]
  })
}

resource "aws_iam_instance_profile" "router" {
  name = local.name
  role = aws_iam_role.router.name
}

resource "aws_launch_template" "router" {
  name_prefix   = "${local.name}-"
  image_id      = var.router_ami_id
  instance_type = var.router_instance_type
  iam_instance_profile {
    arn = aws_iam_instance_profile.router.arn
  }
  vpc_security_group_ids = [aws_security_group.router.id]
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 10
      volume_type = "gp3"
      encrypted   = true
      kms_key_id  = var.kms_key_arn
    }
  }
  monitoring {
    enabled = true
  }
  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    fetch                   = templatefile("${path.module}/../fetch.sh.tftpl", { files = local.artefacts })
    service_token_parameter = var.service_token_parameter
    topology                = local.topology
    liveness                = templatefile("${path.module}/../liveness.sh.tftpl", { service = "loyalty-router", port = 8080 })
  }))
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = local.name })
  }
  tags = local.tags
}

resource "aws_autoscaling_group" "router" {
  name                = local.name
  min_size            = var.router_min_size
  max_size            = var.router_max_size
  vpc_zone_identifier = module.network.private_subnet_ids
  target_group_arns   = [aws_lb_target_group.router.arn]
  # EC2 health, as the regions' groups: the target group routes on /readyz (false only
  # while no region answers, when new routers would not help), and a dead or hung router
  # is restarted on the instance (Restart=always, and loyalty-router-liveness.timer).
  health_check_type         = "EC2"
  health_check_grace_period = 30
  launch_template {
    id      = aws_launch_template.router.id
    version = aws_launch_template.router.latest_version
  }
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }
  dynamic "tag" {
    for_each = merge(local.tags, { Name = local.name })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
