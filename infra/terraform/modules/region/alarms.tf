# The database's alarms and events page through the API's topic (modules/service), so a
# region has one place to subscribe to. docs/DEPLOY.md ("What pages you") says what each
# means and where to look first.

locals {
  free_storage_alarm_gib = ceil(var.db_allocated_storage * 0.05)
  db_alarms = {
    cpu = {
      description = "The database of region ${var.region_id} has been over 80 % CPU for 15 minutes: points writes queue and time out."
      metric      = "CPUUtilization"
      statistic   = "Average"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = 80
    }
    # Storage autoscaling grows the volume when less than 10 % is free (up to
    # max_allocated_storage, at most every six hours). At 5 % of the first allocation it
    # has not kept up, or has reached its ceiling: a full database stops taking writes.
    storage = {
      description = "The database of region ${var.region_id} has less than ${local.free_storage_alarm_gib} GiB free, and storage autoscaling has not kept up."
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      periods     = 1
      comparison  = "LessThanThreshold"
      threshold   = local.free_storage_alarm_gib * 1024 * 1024 * 1024
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "db" {
  for_each            = local.db_alarms
  alarm_name          = "${local.name}-db-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = "missing"
  alarm_actions       = [module.api.alarm_topic.arn]
  ok_actions          = [module.api.alarm_topic.arn]
  tags                = local.tags
}

# What no metric shows: a failover happened (and to which zone), the instance failed or
# became unreachable, or storage ran low.
resource "aws_db_event_subscription" "db" {
  name             = "${local.name}-db"
  sns_topic        = module.api.alarm_topic.arn
  source_type      = "db-instance"
  source_ids       = [aws_db_instance.this.identifier]
  event_categories = ["availability", "failover", "failure", "low storage"]
  tags             = local.tags
}
