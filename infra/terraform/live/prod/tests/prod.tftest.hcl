mock_provider "aws" {
  alias  = "r001"
  source = "../../testing/aws"
}

mock_provider "aws" {
  alias  = "r002"
  source = "../../testing/aws"
}

mock_provider "aws" {
  alias  = "r003"
  source = "../../testing/aws"
}

variables {
  certificate_arns = {
    "001" = "arn:aws:acm:eu-west-1:123456789012:certificate/mock"
    "002" = "arn:aws:acm:us-east-1:123456789012:certificate/mock"
    "003" = "arn:aws:acm:ap-southeast-1:123456789012:certificate/mock"
  }
  public_certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/public"
  api_ami_ids            = { "001" = "ami-01", "002" = "ami-02", "003" = "ami-03" }
  api_release_url        = "s3://releases/loyalty-api/1.0.0"
  router_release_url     = "s3://releases/loyalty-router/1.0.0"
  kms_key_arns = {
    "001" = "arn:aws:kms:eu-west-1:123456789012:key/mock"
    "002" = "arn:aws:kms:us-east-1:123456789012:key/mock"
    "003" = "arn:aws:kms:ap-southeast-1:123456789012:key/mock"
  }
  access_logs_buckets  = { "001" = "logs-001", "002" = "logs-002", "003" = "logs-003" }
  token_verifying_keys = { "001k1" = "pub-001", "002k1" = "pub-002", "003k1" = "pub-003" }
}

run "three_regions_and_the_router" {
  command = apply

  assert {
    condition     = length(output.regions) == 3
    error_message = "Three regions."
  }
  assert {
    condition     = output.regions["001"].db == "loyalty-001" && output.regions["002"].db == "loyalty-002" && output.regions["003"].db == "loyalty-003"
    error_message = "One database per region, named by its code."
  }
  assert {
    condition     = output.public_dns_name != ""
    error_message = "The public entry point exists."
  }
}

run "each_region_lives_in_its_aws_region" {
  command = plan

  assert {
    condition     = var.aws_regions["001"] != var.aws_regions["002"] && var.aws_regions["002"] != var.aws_regions["003"]
    error_message = "The three regions map to three different AWS regions."
  }
}
