# Shared mock data for `terraform test`: what the AWS provider would return, so plans
# and applies run offline with no credentials.
mock_data "aws_availability_zones" {
  defaults = {
    names = ["zone-a", "zone-b", "zone-c"]
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mock"
  }
}

mock_resource "aws_iam_instance_profile" {
  defaults = {
    arn = "arn:aws:iam::123456789012:instance-profile/mock"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mock/1"
    dns_name = "mock.elb.amazonaws.com"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mock/1"
  }
}

mock_resource "aws_lb_listener" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/mock/1/1"
  }
}

mock_resource "aws_db_instance" {
  defaults = {
    arn         = "arn:aws:rds:us-east-1:123456789012:db:mock"
    address     = "mock.rds.amazonaws.com"
    resource_id = "db-MOCK"
  }
}

mock_resource "aws_launch_template" {
  defaults = {
    id             = "lt-0123456789abcdef0"
    latest_version = 1
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:eu-west-1:123456789012:mock-alarms"
  }
}

mock_resource "aws_db_instance_automated_backups_replication" {
  defaults = {
    id = "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-mock"
  }
}
