# The daily audit of the region's books (audit.sh, run by the API instances' timer) sends
# its one-line report here; a metric filter takes the number of findings from it, and two
# alarms page through the API's topic: when the books do not add up, and when no audit
# has reported for 25 hours (the timer, the instances or the audit itself failing).

resource "aws_cloudwatch_log_group" "audit" {
  name              = "/loyalty/${var.region_id}/audit"
  retention_in_days = 400
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_metric_filter" "audit_findings" {
  name           = "${local.name}-audit-findings"
  log_group_name = aws_cloudwatch_log_group.audit.name
  pattern        = "{ $.findings >= 0 }"
  metric_transformation {
    namespace  = "Loyalty"
    name       = "AuditFindings"
    value      = "$.findings"
    dimensions = { Region = "$.region" }
  }
}

locals {
  books_alarms = {
    # Stays in alarm until an audit finds the books clean again: an hour without a
    # report changes nothing.
    books = {
      description = "The daily audit found region ${var.region_id}'s books off: its report in ${aws_cloudwatch_log_group.audit.name} names what."
      statistic   = "Maximum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "ignore"
    }
    books-unchecked = {
      description = "No audit of region ${var.region_id}'s books has reported for 25 hours: see its log, streams <instance>/loyalty-audit of /loyalty/${local.name}-api."
      statistic   = "SampleCount"
      periods     = 25
      comparison  = "LessThanThreshold"
      threshold   = 1
      missing     = "breaching"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "books" {
  for_each            = local.books_alarms
  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "Loyalty"
  metric_name         = aws_cloudwatch_log_metric_filter.audit_findings.metric_transformation[0].name
  dimensions          = { Region = var.region_id }
  statistic           = each.value.statistic
  period              = 3600
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = [module.api.alarm_topic.arn]
  ok_actions          = [module.api.alarm_topic.arn]
  tags                = local.tags
}
