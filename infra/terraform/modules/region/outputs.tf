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

output "peering_side" {
  description = "This region's side of a VPC peering (the peering module's requester or accepter)."
  value       = module.network.peering_side
}

output "internal_alb" {
  description = "The internal load balancer's DNS name and hosted zone, for the private zone's alias record."
  value       = { dns_name = aws_lb.internal.dns_name, zone_id = aws_lb.internal.zone_id }
}

output "migrations" {
  description = "What the deploy runs migrations with: the role to assume and the security group to run in."
  value       = { role_arn = aws_iam_role.migrator.arn, security_group_id = aws_security_group.migrations.id }
}

output "backup_copy" {
  description = "The copy of the database's backups in another AWS region: its ARN there and the key it is encrypted with, or null where it is off."
  value       = one([for copy in aws_db_instance_automated_backups_replication.elsewhere : { arn = copy.id, kms_key_arn = copy.kms_key_id }])
}
