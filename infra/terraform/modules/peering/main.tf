# One VPC peering between two VPCs, possibly in two AWS regions of the same account:
# requested on one side, accepted on the other, and a route to the other's CIDR in each
# side's private route table. Security groups still decide who may talk (see the region
# and router modules: HTTPS to the internal load balancers only).

terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.100"
      configuration_aliases = [aws.requester, aws.accepter]
    }
  }
}

variable "name" {
  type = string
}

variable "requester" {
  description = "The requesting side: its VPC, CIDR and private route table."
  type = object({
    vpc_id         = string
    cidr           = string
    route_table_id = string
  })
}

variable "accepter" {
  description = "The accepting side, and the AWS region it lives in."
  type = object({
    vpc_id         = string
    cidr           = string
    route_table_id = string
    aws_region     = string
  })
}

variable "tags" {
  type    = map(string)
  default = {}
}

data "aws_caller_identity" "accepter" {
  provider = aws.accepter
}

resource "aws_vpc_peering_connection" "this" {
  provider      = aws.requester
  vpc_id        = var.requester.vpc_id
  peer_vpc_id   = var.accepter.vpc_id
  peer_owner_id = data.aws_caller_identity.accepter.account_id
  peer_region   = var.accepter.aws_region
  tags          = merge(var.tags, { Name = var.name })
}

resource "aws_vpc_peering_connection_accepter" "this" {
  provider                  = aws.accepter
  vpc_peering_connection_id = aws_vpc_peering_connection.this.id
  auto_accept               = true
  tags                      = merge(var.tags, { Name = var.name })
}

resource "aws_route" "requester_to_accepter" {
  provider                  = aws.requester
  route_table_id            = var.requester.route_table_id
  destination_cidr_block    = var.accepter.cidr
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.this.id
}

resource "aws_route" "accepter_to_requester" {
  provider                  = aws.accepter
  route_table_id            = var.accepter.route_table_id
  destination_cidr_block    = var.requester.cidr
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.this.id
}

output "id" {
  value = aws_vpc_peering_connection.this.id
}

output "routes" {
  description = "Each side's added route: its table and the other side's CIDR."
  value = {
    requester = { route_table_id = aws_route.requester_to_accepter.route_table_id, cidr = aws_route.requester_to_accepter.destination_cidr_block }
    accepter  = { route_table_id = aws_route.accepter_to_requester.route_table_id, cidr = aws_route.accepter_to_requester.destination_cidr_block }
  }
}

output "peer_region" {
  value = aws_vpc_peering_connection.this.peer_region
}

output "accepted" {
  value = aws_vpc_peering_connection_accepter.this.auto_accept
}
