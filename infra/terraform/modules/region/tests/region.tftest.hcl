mock_provider "aws" {
  source = "../../testing/aws"
}

mock_provider "aws" {
  alias  = "backup"
  source = "../../testing/aws"
}

variables {
  region_id               = "002"
  vpc_cidr                = "10.2.0.0/16"
  internal_allowed_cidrs  = ["10.0.0.0/16", "10.1.0.0/16"]
  certificate_arn         = "arn:aws:acm:us-east-1:123456789012:certificate/mock"
  api_ami_id              = "ami-0123456789abcdef0"
  api_release             = { bucket = "releases-us", key = "loyalty-api/1.0.0", sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
  rds_ca_bundle           = { bucket = "releases-us", key = "rds/global-bundle.pem", sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" }
  internal_ca_bundle      = { bucket = "releases-us", key = "ca/internal.pem", sha256 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" }
  peer_region_cidrs       = ["10.1.0.0/16", "10.3.0.0/16"]
  migration_principals    = ["arn:aws:iam::123456789012:role/deploy"]
  access_logs_bucket      = "loyalty-test-alb-logs"
  kms_key_arn             = "arn:aws:kms:us-east-1:123456789012:key/mock"
  signing_key_parameter   = "/loyalty/test/signing-key"
  verifying_keys          = { "002k1" = "public-key-of-002" }
  service_token_parameter = "/loyalty/test/service-token"
  backup_copy             = { kms_key_arn = "arn:aws:kms:us-west-2:123456789012:key/backup" }
  peers = {
    "001" = { name = "Europe", url = "https://api-001.loyalty.internal" }
    "002" = { name = "Americas", url = "https://api-002.loyalty.internal" }
  }
}

run "database_is_multi_az_encrypted_iam_and_tls_only" {
  command = apply

  assert {
    condition     = aws_db_instance.this.multi_az
    error_message = "The database must be Multi-AZ."
  }
  assert {
    condition     = aws_db_instance.this.iam_database_authentication_enabled
    error_message = "IAM database authentication must be on."
  }
  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == var.kms_key_arn
    error_message = "Storage must be encrypted with the region's key."
  }
  assert {
    condition     = aws_db_instance.this.deletion_protection && aws_db_instance.this.backup_retention_period >= 7
    error_message = "Deletion protection and automated backups must be on."
  }
  assert {
    condition     = aws_db_instance.this.performance_insights_enabled && aws_db_instance.this.monitoring_interval > 0
    error_message = "Performance Insights and enhanced monitoring must be on."
  }
  assert {
    condition     = contains(aws_db_instance.this.enabled_cloudwatch_logs_exports, "postgresql")
    error_message = "Postgres logs must be exported."
  }
  assert {
    condition     = !aws_db_instance.this.publicly_accessible && aws_db_instance.this.manage_master_user_password
    error_message = "Not public, and the master password managed in Secrets Manager (never in state)."
  }
  assert {
    condition     = one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "The parameter group must force TLS."
  }
  assert {
    condition = alltrue([for name in ["log_parameter_max_length", "log_parameter_max_length_on_error"] :
    one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == name]) == "0"])
    error_message = "Logged statements (exported to CloudWatch) never carry their bind parameters."
  }
  assert {
    condition     = aws_db_instance.this.tags["loyalty:region"] == "002" && aws_db_instance.this.tags["loyalty:role"] == "database"
    error_message = "The database carries the tags loyalty-ops discovers it by."
  }
}

run "only_the_api_reaches_the_database" {
  command = apply

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.connection : r.referenced_security_group_id if r.security_group_id == aws_security_group.db.id]) == toset([aws_security_group.api.id, aws_security_group.migrations.id])
    error_message = "The database accepts connections from the API instances and migration runs, nothing else."
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.connection : r.from_port == 5432 && r.to_port == 5432 if r.security_group_id == aws_security_group.db.id])
    error_message = "Only the Postgres port."
  }
  assert {
    condition = alltrue([for k, r in aws_vpc_security_group_egress_rule.connection : (
      aws_vpc_security_group_ingress_rule.connection[k].security_group_id == r.referenced_security_group_id
      && aws_vpc_security_group_ingress_rule.connection[k].referenced_security_group_id == r.security_group_id
    && aws_vpc_security_group_ingress_rule.connection[k].from_port == r.from_port)])
    error_message = "Every connection's egress rule has its matching ingress rule."
  }
  assert {
    condition     = strcontains(aws_iam_role_policy.migrator.policy, "/loyalty_migrator") && !strcontains(module.api.policy, "loyalty_migrator")
    error_message = "Only the migration role connects as the schema's owner; the instances connect as loyalty_api."
  }
  assert {
    condition     = strcontains(module.api.user_data, "LOYALTY_DB__MIGRATE=false")
    error_message = "Instances never migrate; they check the schema."
  }
  assert {
    condition     = [for r in aws_vpc_security_group_ingress_rule.connection : r.referenced_security_group_id if r.security_group_id == aws_security_group.api.id] == [aws_security_group.alb.id]
    error_message = "API instances accept traffic from their internal ALB only."
  }
}

run "api_instances_use_imdsv2_readyz_and_rolling_refresh" {
  command = apply

  assert {
    condition     = module.api.metadata_http_tokens == "required"
    error_message = "IMDSv2 must be required."
  }
  assert {
    condition     = module.api.health_check_path == "/readyz"
    error_message = "The load balancer routes on /readyz."
  }
  assert {
    condition     = (strcontains(module.api.user_data, "--name '/loyalty/test/signing-key'") && strcontains(module.api.user_data, "002k1 = \"public-key-of-002\""))
    error_message = "The region reads its own signing key from SSM at boot and knows every region's public keys."
  }
  assert {
    condition     = (module.api.autoscaling_health_check_type == "EC2" && strcontains(module.api.user_data, "systemctl restart loyalty-api"))
    error_message = "The fleet is replaced on EC2 health, not on /readyz (a database failover fails /readyz everywhere)."
  }
  assert {
    condition     = module.api.instance_refresh_strategy == "Rolling"
    error_message = "A new release rolls through the instances."
  }
  assert {
    condition     = aws_lb.internal.internal && aws_lb.internal.drop_invalid_header_fields
    error_message = "The region's ALB is internal and drops invalid headers."
  }
  assert {
    condition     = aws_lb.internal.xff_header_processing_mode == "preserve"
    error_message = "The region's ALB passes on X-Forwarded-For as the router wrote it (the client's address), adding nothing."
  }
  assert {
    condition     = strcontains(module.api.user_data, "DB_AUTH=iam") && strcontains(module.api.user_data, "get-parameter --with-decryption")
    error_message = "User data uses IAM database auth and reads secrets from SSM at boot."
  }
  assert {
    condition     = !strcontains(module.api.user_data, "SIGNING_KEYS__K1=s")
    error_message = "No secret value is templated into user data."
  }
}

run "instances_boot_from_checked_artefacts_and_reach_only_what_they_use" {
  command = apply

  assert {
    condition     = (!strcontains(module.api.user_data, "apt-get") && strcontains(module.api.user_data, "s3://releases-us/loyalty-api/1.0.0") && strcontains(module.api.user_data, "sha256sum --check"))
    error_message = "Boot installs nothing from the internet; the binary comes from S3 and its sha256 is checked."
  }
  assert {
    condition     = (strcontains(module.api.user_data, "sslmode=verify-full&sslrootcert=/etc/loyalty/rds-ca.pem") && strcontains(module.api.user_data, "ca_file = "))
    error_message = "The database's certificate is verified (name included); calls to other regions trust the internal CA."
  }
  assert {
    condition = (one([for s in jsondecode(module.api.policy).Statement : s.Resource if s.Sid == "ReadExactlyTheDeployedArtefacts"])
    == ["arn:aws:s3:::releases-us/loyalty-api/1.0.0", "arn:aws:s3:::releases-us/rds/global-bundle.pem", "arn:aws:s3:::releases-us/ca/internal.pem"])
    error_message = "The instance role reads exactly the deployed objects."
  }
  assert {
    condition     = toset([for r in aws_vpc_security_group_egress_rule.api_https : r.cidr_ipv4]) == toset(["10.2.0.0/16", "10.1.0.0/16", "10.3.0.0/16"])
    error_message = "HTTPS out only to this VPC (endpoints) and the peer regions, no 0.0.0.0/0."
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_egress_rule.s3 : r.prefix_list_id == module.network.s3_prefix_list_id])
    error_message = "S3 through the gateway endpoint's prefix list."
  }
}

run "alarms_page_through_one_encrypted_topic" {
  command = apply
  variables {
    alarm_emails = ["ops@example.com"]
  }

  assert {
    condition     = module.api.alarm_topic.kms_key == var.kms_key_arn && module.api.alarm_topic.subscribers == ["ops@example.com"]
    error_message = "The region's alarms publish to a topic encrypted with its key, which pages the configured emails."
  }
  assert {
    condition     = toset(keys(module.api.alarms)) == toset(["loyalty-002-api-no-ready-instance", "loyalty-002-api-5xx", "loyalty-002-api-slow"])
    error_message = "The API pages when no instance is ready, on a share of 5xx answers, and on slow answers."
  }
  assert {
    condition = alltrue([for a in values(module.api.alarms) :
    a.alarm_actions == toset([module.api.alarm_topic.arn]) && a.ok_actions == toset([module.api.alarm_topic.arn])])
    error_message = "Every API alarm pages the topic when it fires and when it clears."
  }
  assert {
    condition = (toset(module.api.alarms["loyalty-002-api-5xx"].metrics) == toset(["RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"])
    && alltrue([for a in values(module.api.alarms) : a.dimensions["LoadBalancer"] == "app/mock/1"]))
    error_message = "The API's alarms watch its own internal load balancer: the service's 5xx and the balancer's, against all requests."
  }
  assert {
    condition = alltrue([for a in [aws_cloudwatch_metric_alarm.db["cpu"], aws_cloudwatch_metric_alarm.db["storage"]] :
      a.dimensions["DBInstanceIdentifier"] == aws_db_instance.this.identifier
    && a.alarm_actions == toset([module.api.alarm_topic.arn]) && a.ok_actions == toset([module.api.alarm_topic.arn])])
    error_message = "The database's CPU and storage alarms watch this region's database and page the same topic."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.db["storage"].threshold == 5 * 1024 * 1024 * 1024
    error_message = "Storage pages below 5 % of the first allocation (5 GiB of 100), under where autoscaling grows it (10 %)."
  }
  assert {
    condition = (aws_db_event_subscription.db.sns_topic == module.api.alarm_topic.arn
      && aws_db_event_subscription.db.source_ids == toset([aws_db_instance.this.identifier])
    && contains(aws_db_event_subscription.db.event_categories, "failover"))
    error_message = "The database's failovers, failures and low storage are sent to the topic."
  }
}

run "the_books_are_audited_daily_and_page_when_off_or_unchecked" {
  command = apply
  variables {
    audit_hour_utc = 4
  }

  assert {
    condition = (strcontains(module.api.user_data, "OnCalendar=*-*-* 04..23:00:00 UTC")
      && strcontains(module.api.user_data, "--audit --across-regions --daily \"$instance\"")
    && strcontains(module.api.user_data, "LOYALTY_AUDIT_LOG_GROUP=/loyalty/002/audit"))
    error_message = "The instances try the audit hourly from the quiet hour, across regions, claiming the day, reporting to the region's audit log group."
  }
  assert {
    condition = (one([for s in jsondecode(module.api.policy).Statement : s if s.Sid == "SendTheDailyAuditsReport"]).Resource == "${aws_cloudwatch_log_group.audit.arn}:*"
    && one([for s in jsondecode(module.api.policy).Statement : s if s.Sid == "SendTheDailyAuditsReport"]).Action == ["logs:CreateLogStream", "logs:PutLogEvents"])
    error_message = "The instances may write the audit's report to its log group, and nothing else of CloudWatch Logs."
  }
  assert {
    condition     = aws_cloudwatch_log_group.audit.kms_key_id == var.kms_key_arn && aws_cloudwatch_log_group.audit.retention_in_days >= 365
    error_message = "The reports are encrypted with the region's key and kept over a year."
  }
  assert {
    condition = (aws_cloudwatch_log_metric_filter.audit_findings.metric_transformation[0].value == "$.findings"
    && aws_cloudwatch_log_metric_filter.audit_findings.metric_transformation[0].dimensions["Region"] == "$.region")
    error_message = "The metric is the report's count of findings, by the report's region."
  }
  assert {
    condition = alltrue([for a in values(aws_cloudwatch_metric_alarm.books) :
      a.namespace == "Loyalty" && a.metric_name == "AuditFindings" && a.dimensions["Region"] == "002"
    && a.alarm_actions == toset([module.api.alarm_topic.arn]) && a.ok_actions == toset([module.api.alarm_topic.arn])])
    error_message = "Both books alarms watch this region's audit metric and page the region's topic."
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.books["books"].threshold == 0 && aws_cloudwatch_metric_alarm.books["books"].treat_missing_data == "ignore"
      && aws_cloudwatch_metric_alarm.books["books-unchecked"].treat_missing_data == "breaching"
    && aws_cloudwatch_metric_alarm.books["books-unchecked"].period * aws_cloudwatch_metric_alarm.books["books-unchecked"].datapoints_to_alarm == 25 * 3600)
    error_message = "Any finding pages until a clean audit; 25 hours without a report pages."
  }
}

run "the_api_logs_outlive_its_instances" {
  command = apply

  assert {
    condition = alltrue([for service in ["loyalty-api", "loyalty-audit"] :
      strcontains(module.api.user_data, "StandardOutput=append:/var/log/loyalty/${service}.log")
    && strcontains(module.api.user_data, "\"file_path\":\"/var/log/loyalty/${service}.log\",\"log_group_name\":\"/loyalty/loyalty-002-api\"")])
    error_message = "The API and its daily audit write their logs to files that the CloudWatch agent sends to the API's log group."
  }
  assert {
    condition = (one([for s in jsondecode(module.api.policy).Statement : s.Resource if s.Sid == "ShipTheServicesLogs"]) == "${module.api.log_group.arn}:*"
    && module.api.log_group.kms_key_id == var.kms_key_arn && module.api.log_group.retention_in_days == 90)
    error_message = "The instances may write to their service's log group only, encrypted with the region's key and kept 90 days."
  }
}

run "audit_hour_is_checked" {
  command = plan
  variables {
    audit_hour_utc = 24
  }
  expect_failures = [var.audit_hour_utc]
}

run "the_backups_are_copied_to_another_aws_region" {
  command = apply

  assert {
    condition = (aws_db_instance_automated_backups_replication.elsewhere[0].source_db_instance_arn == aws_db_instance.this.arn
      && aws_db_instance_automated_backups_replication.elsewhere[0].kms_key_id == var.backup_copy.kms_key_arn
    && aws_db_instance_automated_backups_replication.elsewhere[0].retention_period == aws_db_instance.this.backup_retention_period)
    error_message = "The database's automated backups are copied, encrypted with the other region's key, and kept as long as the originals."
  }
}

run "no_backup_copy_where_it_is_turned_off" {
  command = plan
  variables {
    backup_copy = { kms_key_arn = "arn:aws:kms:us-west-2:123456789012:key/backup", enabled = false }
  }

  assert {
    condition     = length(aws_db_instance_automated_backups_replication.elsewhere) == 0
    error_message = "Turned off (moto), no copy is made."
  }
}

run "artefact_checksums_are_checked" {
  command = plan
  variables {
    api_release = { bucket = "releases-us", key = "loyalty-api/1.0.0", sha256 = "not-a-checksum" }
  }
  expect_failures = [var.api_release]
}

run "region_code_is_checked" {
  command = plan
  variables {
    region_id = "2"
  }
  expect_failures = [var.region_id]
}
