variable "region_id" {
  description = "The platform's region code (001, 002, ...): the prefix of every id this region owns."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{3}$", var.region_id))
    error_message = "region_id is three digits."
  }
}

variable "vpc_cidr" {
  description = "CIDR of this region's VPC."
  type        = string
}

variable "internal_allowed_cidrs" {
  description = "Who may call the internal ALB: the routers' and the other regions' networks (peered)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for the internal ALB's HTTPS listener."
  type        = string
}

variable "api_ami_id" {
  description = "AMI for API instances (Debian 12 with libpq5, the AWS CLI and the CloudWatch agent)."
  type        = string
}

variable "api_instance_type" {
  type    = string
  default = "c7g.large"
}

variable "api_min_size" {
  type    = number
  default = 2
}

variable "api_max_size" {
  type    = number
  default = 6
}

variable "api_release" {
  description = "The loyalty-api release binary: its S3 object (in this AWS region) and sha256. A new one rolls the fleet."
  type = object({
    bucket = string
    key    = string
    sha256 = string
  })
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.api_release.sha256))
    error_message = "api_release.sha256 is 64 lowercase hex digits."
  }
}

variable "rds_ca_bundle" {
  description = "The RDS CA bundle (global-bundle.pem from AWS) as an S3 object with its sha256: the API verifies the database's certificate and name against it (sslmode=verify-full)."
  type = object({
    bucket = string
    key    = string
    sha256 = string
  })
}

variable "internal_ca_bundle" {
  description = "The private CA that signs the internal load balancers' certificates (api-NNN.<internal domain>), as an S3 object with its sha256: APIs trust it when calling other regions."
  type = object({
    bucket = string
    key    = string
    sha256 = string
  })
}

variable "peer_region_cidrs" {
  description = "CIDRs of the other regions' VPCs (peered): API instances may call their internal load balancers over HTTPS, nothing else."
  type        = list(string)
}

variable "migration_principals" {
  description = "IAM principals (the deploy pipeline's role) that may assume this region's migration role, which alone may connect as the schema's owner (loyalty_migrator)."
  type        = list(string)
}

variable "deletion_protection" {
  description = "Protect the database and the load balancer from deletion (off only for throwaway stacks, such as `make infra-sim`)."
  type        = bool
  default     = true
}

variable "db_instance_class" {
  type    = string
  default = "db.m7g.large"
}

variable "db_allocated_storage" {
  type    = number
  default = 100
}

variable "signing_key_parameter" {
  description = "SSM Parameter Store name (SecureString) holding this region's Ed25519 token signing key (`loyalty-api --new-signing-key`, first line); read at boot, never in state."
  type        = string
}

variable "verifying_keys" {
  description = "Every region's token public keys by key id (`001k1` = second line of `loyalty-api --new-signing-key`); public, so plain configuration."
  type        = map(string)
}

variable "service_token_parameter" {
  description = "SSM Parameter Store name (SecureString) holding the /internal service token."
  type        = string
}

variable "peers" {
  description = "Every region of the deployment: code → name and internal URL (for the outbox relay and pricing)."
  type = map(object({
    name = string
    url  = string
  }))
}

variable "kms_key_arn" {
  description = "KMS key for database storage, Performance Insights and logs."
  type        = string
}

variable "access_logs_bucket" {
  description = "S3 bucket in this AWS region (with its own logging and retention) for the internal ALB's access logs."
  type        = string
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "alarm_emails" {
  description = "Who this part's alarms page, by email (each confirms its subscription from the first message)."
  type        = list(string)
  default     = []
}

variable "audit_hour_utc" {
  description = "The hour (UTC, 0-23) from which the API instances try the daily audit of the region's books, hourly until one has run it: the region's quietest."
  type        = number
  default     = 3
  validation {
    condition     = var.audit_hour_utc >= 0 && var.audit_hour_utc <= 23 && floor(var.audit_hour_utc) == var.audit_hour_utc
    error_message = "audit_hour_utc is a whole hour, 0 to 23."
  }
}

variable "backup_copy" {
  description = "The copy of the database's automated backups in the AWS region of the provider aws.backup: that region's KMS key for it, and whether to make it (off only where the API is missing: moto)."
  type = object({
    kms_key_arn = string
    enabled     = optional(bool, true)
  })
}
