variable "vpc_cidr" {
  type = string
}

variable "certificate_arn" {
  description = "ACM certificate for the public HTTPS listener."
  type        = string
}

variable "router_ami_id" {
  type = string
}

variable "router_instance_type" {
  type    = string
  default = "c7g.large"
}

variable "router_min_size" {
  type    = number
  default = 2
}

variable "router_max_size" {
  type    = number
  default = 6
}

variable "router_release" {
  description = "The loyalty-router release binary: its S3 object (in this AWS region) and sha256."
  type = object({
    bucket = string
    key    = string
    sha256 = string
  })
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.router_release.sha256))
    error_message = "router_release.sha256 is 64 lowercase hex digits."
  }
}

variable "internal_ca_bundle" {
  description = "The private CA of the regions' internal load balancer certificates, as an S3 object with its sha256."
  type = object({
    bucket = string
    key    = string
    sha256 = string
  })
}

variable "region_cidrs" {
  description = "CIDRs of the regions' VPCs (peered): routers call their internal load balancers over HTTPS, nothing else."
  type        = list(string)
}

variable "deletion_protection" {
  description = "Protect the public load balancer from deletion (off only for throwaway stacks)."
  type        = bool
  default     = true
}

variable "service_token_parameter" {
  description = "SSM Parameter Store name (SecureString) of the /internal service token."
  type        = string
}

variable "regions" {
  description = "Every region: code → name and internal URL."
  type = map(object({
    name = string
    url  = string
  }))
}

variable "kms_key_arn" {
  type = string
}

variable "access_logs_bucket" {
  description = "S3 bucket (with its own logging and retention) for the public ALB's access logs."
  type        = string
}

variable "tags" {
  type    = map(string)
  default = {}
}
