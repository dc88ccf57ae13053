# What pages the operators about this service: an SNS topic (its subscribers are
# var.alarm_emails; anything else that speaks SNS can subscribe too) and the alarms on the
# service's load balancer. Alarms also send when they clear, so a page has an end.
# docs/DEPLOY.md ("What pages you") says what each one means and where to look first.

locals {
  # CloudWatch names a load balancer by the end of its ARN (app/<name>/<id>).
  load_balancer_dimension = split(":loadbalancer/", var.load_balancer_arn)[1]
  # Every target group of the service: its own, and one for each host route.
  target_groups = merge(
    { (var.name) = aws_lb_target_group.this.arn_suffix },
    { for key, group in aws_lb_target_group.host : "${var.name}-${key}" => group.arn_suffix },
  )
}

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
  # CloudWatch (and RDS events, for a region) publish to it: the key's policy must let
  # those services use it (docs/DEPLOY.md, "Once per account").
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# Readiness fails while what the service needs is away (a region's database, every
# region for a router), and a Multi-AZ failover takes one to two minutes: three minutes
# without one ready instance is an outage, not a failover.
resource "aws_cloudwatch_metric_alarm" "no_ready_instance" {
  for_each            = local.target_groups
  alarm_name          = "${each.key}-no-ready-instance"
  alarm_description   = "No instance of ${each.key} has answered /readyz for 3 minutes: its requests fail."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = local.load_balancer_dimension, TargetGroup = each.value }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  # A target group with nothing registered reports nothing: that is no instance too.
  treat_missing_data = "breaching"
  alarm_actions      = [aws_sns_topic.alarms.arn]
  ok_actions         = [aws_sns_topic.alarms.arn]
  tags               = var.tags
}

# 5xx answers, the service's own (500, 503 region_unavailable, 504 timeout) and the load
# balancer's (502, 503, 504), as a share of all requests. A quiet minute (under 20
# requests) counts as healthy: one failure in three requests is not an outage.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-5xx"
  alarm_description   = "Over ${var.alarm_thresholds.error_percent} % of ${var.name}'s answers were 5xx in 3 of the last 5 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_thresholds.error_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "share"
    label       = "5xx answers, % of requests"
    expression  = "IF(requests >= 20, 100 * (FILL(service, 0) + FILL(balancer, 0)) / requests, 0)"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = { requests = "RequestCount", service = "HTTPCode_Target_5XX_Count", balancer = "HTTPCode_ELB_5XX_Count" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = { LoadBalancer = local.load_balancer_dimension }
        stat        = "Sum"
        period      = 60
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "latency" {
  alarm_name          = "${var.name}-slow"
  alarm_description   = "The slowest 1 % of ${var.name}'s answers took over ${var.alarm_thresholds.p99_seconds} s for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = local.load_balancer_dimension, TargetGroup = aws_lb_target_group.this.arn_suffix }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_thresholds.p99_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}
