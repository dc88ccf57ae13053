output "role_name" {
  value = aws_iam_role.this.name
}

output "policy" {
  description = "The instance role's policy document (JSON)"
  value       = aws_iam_role_policy.this.policy
}

output "user_data" {
  description = "The boot script as the instances get it (decoded)"
  value       = base64decode(aws_launch_template.this.user_data)
}

output "metadata_http_tokens" {
  value = aws_launch_template.this.metadata_options[0].http_tokens
}

output "health_check_path" {
  value = aws_lb_target_group.this.health_check[0].path
}

output "autoscaling_health_check_type" {
  value = aws_autoscaling_group.this.health_check_type
}

output "instance_refresh_strategy" {
  value = aws_autoscaling_group.this.instance_refresh[0].strategy
}

output "listener" {
  value = { protocol = aws_lb_listener.https.protocol, port = aws_lb_listener.https.port }
}

output "host_rules" {
  description = "Each host route: the host name its listener rule matches, and the port and health path of its target group"
  value = { for k, rule in aws_lb_listener_rule.host : k => {
    hosts       = flatten([for c in rule.condition : [for h in c.host_header : tolist(h.values)]])
    port        = aws_lb_target_group.host[k].port
    health_path = aws_lb_target_group.host[k].health_check[0].path
    forwards_to = rule.action[0].target_group_arn == aws_lb_target_group.host[k].arn
  } }
}

output "alarm_topic" {
  description = "The SNS topic the service's alarms publish to, the key it is encrypted with, and who is subscribed by email"
  value = {
    arn         = aws_sns_topic.alarms.arn
    kms_key     = aws_sns_topic.alarms.kms_master_key_id
    subscribers = [for s in aws_sns_topic_subscription.email : s.endpoint]
  }
}

output "alarms" {
  description = "Each alarm of the service: what it watches (metric, or the metrics of its expression) and whom it pages"
  value = { for alarm in concat(values(aws_cloudwatch_metric_alarm.no_ready_instance), [aws_cloudwatch_metric_alarm.errors, aws_cloudwatch_metric_alarm.latency]) : alarm.alarm_name => {
    metrics       = alarm.metric_name != null && alarm.metric_name != "" ? [alarm.metric_name] : [for q in alarm.metric_query : q.metric[0].metric_name if length(q.metric) > 0]
    dimensions    = alarm.metric_name != null && alarm.metric_name != "" ? alarm.dimensions : one(distinct([for q in alarm.metric_query : q.metric[0].dimensions if length(q.metric) > 0]))
    alarm_actions = alarm.alarm_actions
    ok_actions    = alarm.ok_actions
  } }
}

output "log_group" {
  description = "Where the instances' services log: its name and ARN, key and retention"
  value = {
    name              = aws_cloudwatch_log_group.services.name
    arn               = aws_cloudwatch_log_group.services.arn
    kms_key_id        = aws_cloudwatch_log_group.services.kms_key_id
    retention_in_days = aws_cloudwatch_log_group.services.retention_in_days
  }
}
