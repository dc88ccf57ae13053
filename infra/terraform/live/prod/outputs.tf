output "public_dns_name" {
  description = "Point the platform's public name and the console's (console_host) here (CNAME/alias)."
  value       = module.router.public_dns_name
}

output "regions" {
  description = "Per region: its internal URL and database."
  value = {
    "001" = { internal_url = module.region_001.internal_url, db = module.region_001.db_identifier, migrations = module.region_001.migrations }
    "002" = { internal_url = module.region_002.internal_url, db = module.region_002.db_identifier, migrations = module.region_002.migrations }
    "003" = { internal_url = module.region_003.internal_url, db = module.region_003.db_identifier, migrations = module.region_003.migrations }
  }
}
