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

resource "aws_lb" "internal" {
  name                       = "${local.name}-internal"
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = module.network.private_subnet_ids
  drop_invalid_header_fields = true
  # The router writes the client's address into X-Forwarded-For, and the API keys failed
  # logins by it. Appending (the default) would add the router's own address, so every
  # client behind one router would share one lockout: a stranger's failures would lock
  # the account's owner out. Only routers and peer regions reach this ALB.
  xff_header_processing_mode = "preserve"
  enable_deletion_protection = var.deletion_protection
  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = "internal-alb-${var.region_id}"
    enabled = true
  }
  tags = local.tags
}

module "api" {
  source             = "../service"
  name               = "${local.name}-api"
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [aws_security_group.api.id]
  ami_id             = var.api_ami_id
  instance_type      = var.api_instance_type
  min_size           = var.api_min_size
  max_size           = var.api_max_size
  volume_size        = 20
  kms_key_arn        = var.kms_key_arn
  load_balancer_arn  = aws_lb.internal.arn
  certificate_arn    = var.certificate_arn
  # Readiness fails while the region's database fails over: a minute's grace at boot.
  health_check_grace_period = 60
  alarm_emails              = var.alarm_emails
  # The daily audit's own output too: why a day went unchecked.
  log_services = ["loyalty-api", "loyalty-audit"]
  policy_statements = [
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
      Sid      = "SendTheDailyAuditsReport"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.audit.arn}:*"
    },
    {
      Sid      = "ReadExactlyTheDeployedArtefacts"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = [for f in local.artefacts : "arn:aws:s3:::${f.bucket}/${f.key}"]
    }
  ]
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    region_id               = var.region_id
    fetch                   = templatefile("${path.module}/../fetch.sh.tftpl", { files = local.artefacts })
    db_host                 = aws_db_instance.this.address
    signing_key_parameter   = var.signing_key_parameter
    service_token_parameter = var.service_token_parameter
    topology                = local.topology
    liveness                = templatefile("${path.module}/../liveness.sh.tftpl", { service = "loyalty-api", port = 8080 })
    audit_script            = file("${path.module}/audit.sh")
    audit_log_group         = aws_cloudwatch_log_group.audit.name
    audit_hour_utc          = format("%02d", var.audit_hour_utc)
  })
  tags = local.tags
}

# Where these lived before the service module: moved, not replaced, in a running deployment.
moved {
  from = aws_iam_role.api
  to   = module.api.aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.api
  to   = module.api.aws_iam_role_policy.this
}
moved {
  from = aws_iam_instance_profile.api
  to   = module.api.aws_iam_instance_profile.this
}
moved {
  from = aws_launch_template.api
  to   = module.api.aws_launch_template.this
}
moved {
  from = aws_lb_target_group.api
  to   = module.api.aws_lb_target_group.this
}
moved {
  from = aws_lb_listener.internal_https
  to   = module.api.aws_lb_listener.https
}
moved {
  from = aws_autoscaling_group.api
  to   = module.api.aws_autoscaling_group.this
}
