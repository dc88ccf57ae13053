output "public_dns_name" {
  value = aws_lb.public.dns_name
}

output "vpc_cidr" {
  value = module.network.cidr
}

output "vpc_id" {
  value = module.network.vpc_id
}

output "private_route_table_id" {
  value = module.network.private_route_table_id
}
