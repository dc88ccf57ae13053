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

variable "router_release_url" {
  type = string
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
