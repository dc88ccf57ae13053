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
  migration_principals   = ["arn:aws:iam::123456789012:role/deploy"]
  release_buckets        = { "001" = "rel-001", "002" = "rel-002", "003" = "rel-003" }
  api_release            = { key = "loyalty-api/1.0.0", sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
  router_release         = { key = "loyalty-router/1.0.0", sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
  console_release        = { key = "loyalty-web/1.0.0", sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
  rds_ca_bundle          = { key = "rds/global-bundle.pem", sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
  internal_ca_bundle     = { key = "ca/internal.pem", sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
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

run "every_vpc_reaches_the_ones_it_calls_by_name" {
  command = apply

  assert {
    condition     = (module.peering_router_001.id != "" && module.peering_router_002.id != "" && module.peering_router_003.id != "" && module.peering_001_002.id != "" && module.peering_001_003.id != "" && module.peering_002_003.id != "")
    error_message = "The router peers with every region, and every region with every other."
  }
  assert {
    condition     = (module.peering_router_002.routes.requester.cidr == "10.2.0.0/16" && module.peering_router_002.routes.accepter.cidr == "10.0.0.0/16" && module.peering_002_003.routes.requester.cidr == "10.3.0.0/16" && module.peering_002_003.routes.accepter.cidr == "10.2.0.0/16")
    error_message = "Each side of a peering routes the other side's CIDR through it."
  }
  assert {
    condition     = module.peering_router_003.peer_region == "ap-southeast-1" && module.peering_001_002.peer_region == "us-east-1"
    error_message = "Peerings are requested towards the accepter's AWS region."
  }
  assert {
    condition     = length(aws_route53_zone.internal.vpc) == 4
    error_message = "The internal zone answers in all four VPCs."
  }
  assert {
    condition     = toset([for r in aws_route53_record.api : r.name]) == toset(["api-001.loyalty.internal", "api-002.loyalty.internal", "api-003.loyalty.internal"])
    error_message = "Each region's internal load balancer has its api-<code> name, the one in every topology."
  }
}

run "alarm_emails_are_checked" {
  command = plan
  variables {
    alarm_emails = ["oncall@loyalty.example", "not an address"]
  }
  expect_failures = [var.alarm_emails]
}

run "each_region_copies_its_backups_to_the_next_aws_region" {
  command = apply

  assert {
    condition = (module.region_001.backup_copy.kms_key_arn == var.kms_key_arns["002"]
      && module.region_002.backup_copy.kms_key_arn == var.kms_key_arns["003"]
    && module.region_003.backup_copy.kms_key_arn == var.kms_key_arns["001"])
    error_message = "001's backups are copied to 002's AWS region, 002's to 003's, 003's to 001's, each with that region's key."
  }
}
