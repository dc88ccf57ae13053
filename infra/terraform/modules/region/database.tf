resource "aws_db_subnet_group" "this" {
  name       = local.name
  subnet_ids = module.network.private_subnet_ids
  tags       = local.tags
}

# TLS only: clients that do not use SSL are refused.
resource "aws_db_parameter_group" "this" {
  name   = "${local.name}-pg15"
  family = "postgres15"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # The API recognises deadlocks and statement timeouts by their untranslated text (diesel
  # hides the SQLSTATE), and its IAM role may not set lc_messages per session.
  parameter {
    name  = "lc_messages"
    value = "C"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }
  # Slow statements are logged (and exported to CloudWatch) without their bind
  # parameters: those hold emails, password hashes and tokens' subjects.
  parameter {
    name  = "log_parameter_max_length"
    value = "0"
  }
  parameter {
    name  = "log_parameter_max_length_on_error"
    value = "0"
  }
  tags = local.tags
}

resource "aws_iam_role" "rds_monitoring" {
  name = "${local.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "monitoring.rds.amazonaws.com" } }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier     = local.name
  engine         = "postgres"
  engine_version = "15"
  instance_class = var.db_instance_class
  db_name        = "loyalty"
  username       = "loyalty_admin"
  # The master password lives in Secrets Manager, managed by RDS: never in state.
  manage_master_user_password = true
  # The API connects as an IAM user with short-lived tokens (DB_AUTH=iam).
  iam_database_authentication_enabled = true

  multi_az                   = true
  allocated_storage          = var.db_allocated_storage
  max_allocated_storage      = var.db_allocated_storage * 4
  storage_type               = "gp3"
  storage_encrypted          = true
  kms_key_id                 = var.kms_key_arn
  db_subnet_group_name       = aws_db_subnet_group.this.name
  vpc_security_group_ids     = [aws_security_group.db.id]
  parameter_group_name       = aws_db_parameter_group.this.name
  publicly_accessible        = false
  deletion_protection        = var.deletion_protection
  backup_retention_period    = 14
  copy_tags_to_snapshot      = true
  skip_final_snapshot        = !var.deletion_protection
  final_snapshot_identifier  = "${local.name}-final"
  auto_minor_version_upgrade = true

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]

  # Operations tooling (loyalty-ops) finds each region's database by these tags.
  tags = merge(local.tags, { "loyalty:role" = "database" })
}

# Migrations run apart from the service: the deploy assumes this role and runs
# `loyalty-api --migrate` as loyalty_migrator from a host in the migrations security
# group (docs/DEPLOY.md). The API instances connect as loyalty_api, which cannot change
# the schema (infra/sql/roles.sql), and their role cannot connect as the migrator.
resource "aws_iam_role" "migrator" {
  name = "${local.name}-migrator"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = var.migration_principals } }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "migrator" {
  role = aws_iam_role.migrator.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ConnectAsTheSchemaOwner"
      Effect   = "Allow"
      Action   = "rds-db:connect"
      Resource = "arn:aws:rds-db:*:*:dbuser:${aws_db_instance.this.resource_id}/loyalty_migrator"
    }]
  })
}

# A copy of the automated backups (snapshots and transaction logs) in another AWS region,
# so the region's ledger outlives the loss of its whole AWS region, up to the copy's latest
# restorable time: the copy is asynchronous (docs/DEPLOY.md, "Losing an AWS region").
resource "aws_db_instance_automated_backups_replication" "elsewhere" {
  count                  = var.backup_copy.enabled ? 1 : 0
  provider               = aws.backup
  source_db_instance_arn = aws_db_instance.this.arn
  kms_key_id             = var.backup_copy.kms_key_arn
  retention_period       = aws_db_instance.this.backup_retention_period
}
