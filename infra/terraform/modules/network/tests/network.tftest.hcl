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
  assert {
    condition     = length(aws_internet_gateway.this) == 0 && length(aws_route_table.private.route) == 0
    error_message = "No internet gateway, and no route out of the private subnets but the ones peering adds."
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["ssm", "ssmmessages", "ec2messages", "logs", "kms", "sts"]) && aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway"
    error_message = "AWS APIs through endpoints: SSM, logs, KMS, STS as interface endpoints, S3 as a gateway."
  }
  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : e.private_dns_enabled])
    error_message = "Interface endpoints answer for the services' usual names."
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
  assert {
    condition     = length(aws_internet_gateway.this) == 1 && one(aws_route_table.public[0].route).cidr_block == "0.0.0.0/0"
    error_message = "Public subnets route to an internet gateway."
  }
}
