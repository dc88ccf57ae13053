resource "aws_iam_role" "api" {
  name = "${local.name}-api"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "api" {
  role = aws_iam_role.api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ConnectToTheRegionDatabaseAsTheApiUser"
        Effect   = "Allow"
        Action   = "rds-db:connect"
        Resource = "arn:aws:rds-db:*:*:dbuser:${aws_db_instance.this.resource_id}/loyalty_api"
      },
      {
        Sid      = "ReadTheSecretsAtBoot"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter"]
        Resource = ["arn:aws:ssm:*:*:parameter${var.signing_key_parameter}", "arn:aws:ssm:*:*:parameter${var.service_token_parameter}"]
      },
      {
        Sid      = "DecryptTheSecrets"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.kms_key_arn
      },
      {
        Sid      = "ReadExactlyTheDeployedArtefacts"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [for f in local.artefacts : "arn:aws:s3:::${f.bucket}/${f.key}"]
      }
    ]
  })
}

resource "aws_iam_instance_profile" "api" {
  name = "${local.name}-api"
  role = aws_iam_role.api.name
}

locals {
  # What an instance fetches at boot, each checked against its sha256.
  artefacts = [
    merge(var.api_release, { path = "/opt/loyalty/loyalty-api", mode = "0755" }),
    merge(var.rds_ca_bundle, { path = "/etc/loyalty/rds-ca.pem", mode = "0644" }),
    merge(var.internal_ca_bundle, { path = "/etc/loyalty/internal-ca.pem", mode = "0644" }),
  ]
  # The deployment's regions as the API's configuration file describes them.
  topology = join("\n", concat(
    ["[tls]\nca_file = \"/etc/loyalty/internal-ca.pem\"\n"],
    [for id, peer in var.peers : "[[regions]]\nid = \"${id}\"\nname = \"${peer.name}\"\nurls = [\"${peer.url}\"]\n"],
    ["[auth.verifying_keys]"],
    [for kid, key in var.verifying_keys : "${kid} = \"${key}\""],
  ))
}

resource "aws_launch_template" "api" {
  name_prefix   = "${local.name}-api-"
  image_id      = var.api_ami_id
  instance_type = var.api_instance_type
  iam_instance_profile {
    arn = aws_iam_instance_profile.api.arn
  }
  vpc_security_group_ids = [aws_security_group.api.id]
  # IMDSv2 only: no token-less metadata requests.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 20
      volume_type = "gp3"
      encrypted   = true
      kms_key_id  = var.kms_key_arn
    }
  }
  monitoring {
    enabled = true
  }
  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    region_id               = var.region_id
    fetch                   = templatefile("${path.module}/../fetch.sh.tftpl", { files = local.artefacts })
    db_host                 = aws_db_instance.this.address
    signing_key_parameter   = var.signing_key_parameter
    service_token_parameter = var.service_token_parameter
    topology                = local.topology
    liveness                = templatefile("${path.module}/../liveness.sh.tftpl", { service = "loyalty-api", port = 8080 })
  }))
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${local.name}-api" })
  }
  tags = local.tags
}

resource "aws_lb" "internal" {
  name                       = "${local.name}-internal"
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = module.network.private_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = "internal-alb-${var.region_id}"
    enabled = true
  }
  tags = local.tags
}

resource "aws_lb_target_group" "api" {
  name                 = "${local.name}-api"
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

resource "aws_lb_listener" "internal_https" {
  load_balancer_arn = aws_lb.internal.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
  tags = local.tags
}

resource "aws_autoscaling_group" "api" {
  name                = "${local.name}-api"
  min_size            = var.api_min_size
  max_size            = var.api_max_size
  vpc_zone_identifier = module.network.private_subnet_ids
  target_group_arns   = [aws_lb_target_group.api.arn]
  # EC2 health, not the load balancer's: the target group routes on /readyz, which
  # fails while the region's database fails over (60-120 s in Multi-AZ). Replacing
  # instances for that would terminate the whole fleet for a database event. A dead or
  # hung process is the instance's own business: systemd restarts it (Restart=always,
  # and loyalty-api-liveness.timer restarts it when /healthz stops answering).
  health_check_type         = "EC2"
  health_check_grace_period = 60
  launch_template {
    id      = aws_launch_template.api.id
    version = aws_launch_template.api.latest_version
  }
  # A new launch template version (a new release) rolls through the instances.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }
  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${local.name}-api" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
