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

variable "releases" {
  description = "The release binaries, each an S3 object (in this AWS region) with its sha256: `router` (loyalty-router) and `console` (loyalty-web, the web console, which runs beside each router)."
  type = object({
    router  = object({ bucket = string, key = string, sha256 = string })
    console = object({ bucket = string, key = string, sha256 = string })
  })
  validation {
    condition     = alltrue([for r in [var.releases.router, var.releases.console] : can(regex("^[0-9a-f]{64}$", r.sha256))])
    error_message = "Each release's sha256 is 64 lowercase hex digits."
  }
}

variable "console_host" {
  description = "The web console's host name: the public load balancer forwards requests for it to the console (the certificate must cover it)."
  type        = string
}

variable "console_session_key_parameter" {
  description = "SSM Parameter Store name (SecureString) of the console's session cookie key (base64 of 64 random bytes), the same on every instance."
  type        = string
}

variable "proxy_token_parameter" {
  description = "SSM Parameter Store name (SecureString) of the token with which the console vouches to the router for its visitors' addresses."
  type        = string
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

variable "verifying_keys" {
  description = "Every region's token public keys by key id (`001k1`), the same map the regions get: the router checks each token's signature before it forwards it."
  type        = map(string)
  validation {
    condition     = alltrue([for id in keys(var.regions) : anytrue([for kid in keys(var.verifying_keys) : startswith(kid, id)])])
    error_message = "Every region needs a verifying key (`<code>k1`): the router refuses tokens it cannot check."
  }
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

variable "alarm_emails" {
  description = "Who this part's alarms page, by email (each confirms its subscription from the first message)."
  type        = list(string)
  default     = []
}
