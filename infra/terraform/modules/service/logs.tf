# The services' logs, kept beyond the instance: each systemd service named in
# var.log_services writes its output to /var/log/loyalty/<service>.log (its unit's
# StandardOutput), which the CloudWatch agent (in the AMI) sends to this group, one
# stream per instance and service. An instance replaced by a release or by autoscaling
# takes its logs with it; these stay, and a request id can be followed across the hops.

resource "aws_cloudwatch_log_group" "services" {
  #checkov:skip=CKV_AWS_338:request logs name users (ids in paths) and client addresses: kept 90 days by default (var.log_retention_days), as little as operations need; the audit reports are kept 400
  name              = "/loyalty/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

locals {
  log_agent_config = jsonencode({
    agent = { run_as_user = "root" }
    logs = { logs_collected = { files = { collect_list = [for service in var.log_services : {
      file_path       = "/var/log/loyalty/${service}.log"
      log_group_name  = aws_cloudwatch_log_group.services.name
      log_stream_name = "{instance_id}/${service}"
    }] } } }
  })
  # Appended to the caller's boot script, after its services have started.
  ship_logs = <<-SCRIPT

    # Ship the services' logs (modules/service/logs.tf).
    cat >/etc/loyalty/cloudwatch-agent.json <<'AGENT'
    ${local.log_agent_config}
    AGENT
    cat >/etc/logrotate.d/loyalty <<'ROTATE'
    /var/log/loyalty/*.log {
      daily
      rotate 3
      compress
      missingok
      copytruncate
    }
    ROTATE
    /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/etc/loyalty/cloudwatch-agent.json
  SCRIPT
  ship_logs_statement = {
    Sid      = "ShipTheServicesLogs"
    Effect   = "Allow"
    Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    Resource = "${aws_cloudwatch_log_group.services.arn}:*"
  }
}
