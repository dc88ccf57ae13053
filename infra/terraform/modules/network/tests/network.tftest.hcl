mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  name        = "loyalty-test"
  cidr        = "10.9.0.0/16"
  kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/mock"
  tags        = {}
}

run "private_only_by_default_with_flow_logs_and_a_closed_default_group" {
  command = apply

  assert {
    condition     = length(output.private_subnet_ids) == 2 && length(output.public_subnet_ids) == 0
    error_message = "Two private subnets, no public ones unless asked."
  }
  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_cloudwatch_log_group.flow.kms_key_id == var.kms_key_arn
    error_message = "All traffic logged to an encrypted log group."
  }
  assert {
    condition     = length(aws_default_security_group.closed.ingress) == 0 && length(aws_default_security_group.closed.egress) == 0
    error_message = "The default security group allows nothing."
  }
}

run "public_subnets_on_request" {
  command = apply
  variables {
    public_subnets = true
  }

  assert {
    condition     = length(output.public_subnet_ids) == 2
    error_message = "Two public subnets when asked."
  }
}
