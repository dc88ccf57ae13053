output "internal_url" {
  description = "Where routers and peer regions reach this region."
  value       = "https://${aws_lb.internal.dns_name}"
}

output "db_endpoint" {
  value = aws_db_instance.this.address
}

output "db_identifier" {
  value = aws_db_instance.this.identifier
}

output "api_security_group_id" {
  value = aws_security_group.api.id
}

output "vpc_id" {
  value = module.network.vpc_id
}
