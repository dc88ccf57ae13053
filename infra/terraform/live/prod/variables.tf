variable "aws_regions" {
  description = "Platform region code → AWS region."
  type        = map(string)
  default     = { "001" = "eu-west-1", "002" = "us-east-1", "003" = "ap-southeast-1" }
}

variable "internal_domain" {
  description = "Private DNS zone under which each region's internal ALB is api-<code>.<domain>."
  type        = string
  default     = "loyalty.internal"
}

variable "router_vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "certificate_arns" {
  description = "ACM certificate per region for the internal ALBs, for api-<code>.<internal_domain>, issued by the private CA of internal_ca_bundle (certificates are regional)."
  type        = map(string)
}

variable "public_certificate_arn" {
  description = "ACM certificate for the public ALB (in region 001's AWS region)."
  type        = string
}

variable "api_ami_ids" {
  description = "Debian 12 AMI per region (AMI ids are regional)."
  type        = map(string)
}

variable "release_buckets" {
  description = "Per region, the S3 bucket in its AWS region holding the release artefacts (instances reach S3 only through their VPC's gateway endpoint, which serves same-region buckets). The same objects are copied to each."
  type        = map(string)
}

variable "api_release" {
  description = "The loyalty-api binary's object key and sha256 (in every release bucket); a new one rolls the fleets."
  type        = object({ key = string, sha256 = string })
}

variable "router_release" {
  description = "The loyalty-router binary's object key and sha256 (in region 001's release bucket)."
  type        = object({ key = string, sha256 = string })
}

variable "console_release" {
  description = "The loyalty-web (web console) binary's object key and sha256 (in region 001's release bucket); it runs beside each router."
  type        = object({ key = string, sha256 = string })
}

variable "console_host" {
  description = "The web console's public host name (covered by public_certificate_arn); the public load balancer forwards it to the console."
  type        = string
  default     = "console.loyalty.example"
}

variable "console_session_key_parameter" {
  type    = string
  default = "/loyalty/prod/console-session-key"
}

variable "proxy_token_parameter" {
  description = "SSM SecureString of the token with which the console vouches to the router for its visitors' addresses."
  type        = string
  default     = "/loyalty/prod/proxy-token"
}

variable "rds_ca_bundle" {
  description = "AWS's RDS CA bundle (global-bundle.pem): object key and sha256 in every release bucket."
  type        = object({ key = string, sha256 = string })
}

variable "internal_ca_bundle" {
  description = "The private CA (e.g. AWS Private CA) that issued the internal load balancers' certificates (api-NNN.<internal_domain>): object key and sha256 in every release bucket."
  type        = object({ key = string, sha256 = string })
}

variable "migration_principals" {
  description = "IAM principals (the deploy pipeline's role) that may assume each region's migration role."
  type        = list(string)
}

variable "deletion_protection" {
  description = "Deletion protection on the databases and load balancers; false only for throwaway stacks (`make infra-sim`)."
  type        = bool
  default     = true
}

variable "kms_key_arns" {
  description = "KMS key per region for storage, logs and Performance Insights."
  type        = map(string)
}

variable "signing_key_parameter_prefix" {
  description = "Each region's token signing key is the SSM SecureString <prefix>/<region code>."
  type        = string
  default     = "/loyalty/prod/signing-key"
}

variable "token_verifying_keys" {
  description = "Every region's token public keys by key id (001k1, 002k1, 003k1; keep a retired one while its tokens live)."
  type        = map(string)
}

variable "service_token_parameter" {
  type    = string
  default = "/loyalty/prod/service-token"
}

variable "access_logs_buckets" {
  description = "Per region, an S3 bucket in its AWS region for the ALBs' access logs (ALBs log only to same-region buckets)."
  type        = map(string)
}

variable "alarm_emails" {
  description = "Who the alarms of every region and of the routers page, by email (each confirms its subscription from the first message). docs/DEPLOY.md, \"What pages you\"."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails are email addresses."
  }
}

variable "copy_backups" {
  description = "Copy each region's database backups to the next region's AWS region (001 to 002's, 002 to 003's, 003 to 001's). Off only where that API is missing (moto, `make infra-sim`)."
  type        = bool
  default     = true
}
