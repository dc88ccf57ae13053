output "public_dns_name" {
  value = aws_lb.public.dns_name
}

output "peering_side" {
  description = "The routers' side of a VPC peering (the peering module's requester)."
  value       = module.network.peering_side
}

output "console_rule" {
  description = "The public listener's rule for the web console: its host name and target"
  value       = module.router.host_rules["console"]
}
