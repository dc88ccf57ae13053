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
  description = "AMI for API instances (Debian 12 with libpq5)."
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

variable "api_release_url" {
  description = "Where instances download the loyalty-api release (an S3 object URL)."
  type        = string
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
