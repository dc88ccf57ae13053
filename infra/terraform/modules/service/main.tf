# One autoscaled service behind an HTTPS listener: the API of a region, or the routers
# (with the web console beside them, on a host rule of the same listener).
# Instances boot from user_data, answer /readyz for the target group and /healthz for
# their own liveness timer, and roll on every new launch template version.

resource "aws_iam_role" "this" {
  name = var.name
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  role   = aws_iam_role.this.id
  policy = jsonencode({ Version = "2012-10-17", Statement = concat(var.policy_statements, [local.ship_logs_statement]) })
}

resource "aws_iam_instance_profile" "this" {
  name = var.name
  role = aws_iam_role.this.name
}

resource "aws_launch_template" "this" {
  name_prefix   = "${var.name}-"
  image_id      = var.ami_id
  instance_type = var.instance_type
  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }
  vpc_security_group_ids = var.security_group_ids
  # IMDSv2 only: no token-less metadata requests.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = var.volume_size
      volume_type = "gp3"
      encrypted   = true
      kms_key_id  = var.kms_key_arn
    }
  }
  monitoring {
    enabled = true
  }
  user_data = base64encode("${var.user_data}${local.ship_logs}")
  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = var.name })
  }
  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  name                 = var.name
  port                 = var.port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 15
  health_check {
    path                = "/readyz"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
    matcher             = "200"
  }
  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = var.load_balancer_arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
  tags = var.tags
}

resource "aws_lb_target_group" "host" {
  #checkov:skip=CKV_AWS_378:TLS ends at the HTTPS listener; this group is reached only through that listener's host rule (below)
  for_each             = var.host_routes
  name                 = "${var.name}-${each.key}"
  port                 = each.value.port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 15
  health_check {
    path                = each.value.health_path
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
    matcher             = "200"
  }
  tags = var.tags
}

resource "aws_lb_listener_rule" "host" {
  for_each     = var.host_routes
  listener_arn = aws_lb_listener.https.arn
  # Rules are tried in priority order, before the listener's default action.
  priority = 10 + index(sort(keys(var.host_routes)), each.key)
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.host[each.key].arn
  }
  condition {
    host_header {
      values = [each.value.host]
    }
  }
  tags = var.tags
}

resource "aws_autoscaling_group" "this" {
  name                = var.name
  min_size            = var.min_size
  max_size            = var.max_size
  vpc_zone_identifier = var.subnet_ids
  target_group_arns   = concat([aws_lb_target_group.this.arn], [for tg in aws_lb_target_group.host : tg.arn])
  # EC2 health, not the load balancer's: the target group routes on /readyz, which fails
  # while what the service depends on is away (a region's database failing over for
  # 60-120 s, or every region for a router), when replacing instances would terminate
  # the whole fleet for nothing. A dead or hung process is the instance's own business:
  # systemd restarts it (Restart=always, and the liveness timer on /healthz).
  health_check_type         = "EC2"
  health_check_grace_period = var.health_check_grace_period
  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }
  # A new launch template version (a new release) rolls through the instances.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }
  dynamic "tag" {
    for_each = merge(var.tags, { Name = var.name })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
