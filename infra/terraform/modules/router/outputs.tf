output "public_dns_name" {
  value = aws_lb.public.dns_name
}

output "vpc_cidr" {
  value = module.network.cidr
}
