variable "name" {
  description = "Names the role, instance profile, target group, autoscaling group and instances, e.g. loyalty-001-api"
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  description = "Private subnets the instances run in"
  type        = list(string)
}

variable "security_group_ids" {
  type = list(string)
}

variable "ami_id" {
  type = string
}

variable "instance_type" {
  type = string
}

variable "min_size" {
  type = number
}

variable "max_size" {
  type = number
}

variable "volume_size" {
  description = "Root volume, GiB (encrypted with kms_key_arn)"
  type        = number
}

variable "kms_key_arn" {
  type = string
}

variable "user_data" {
  description = "The boot script, rendered (fetches the release, writes the configuration, starts the service)"
  type        = string
}

variable "policy_statements" {
  description = "The instance role's IAM policy statements: exactly what the service needs"
  type        = any
}

variable "load_balancer_arn" {
  description = "The ALB whose HTTPS listener forwards to the service"
  type        = string
}

variable "certificate_arn" {
  type = string
}

variable "port" {
  description = "The service's HTTP port on the instances"
  type        = number
  default     = 8080
}

variable "host_routes" {
  description = "Further services on the same instances (e.g. the web console beside the router): each gets a target group on its port, checked on health_path, and a rule of the HTTPS listener that forwards requests for its host name to it."
  type = map(object({
    port        = number
    host        = string
    health_path = string
  }))
  default = {}
}

variable "health_check_grace_period" {
  type = number
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "alarm_emails" {
  description = "Who the service's alarms page, by email (each confirms its subscription from the first message)."
  type        = list(string)
  default     = []
}

variable "alarm_thresholds" {
  description = "When the service's alarms fire: the share of 5xx answers (%) and the 99th percentile of answer times (s). See docs/DEPLOY.md."
  type = object({
    error_percent = number
    p99_seconds   = number
  })
  default = { error_percent = 2, p99_seconds = 2 }
}

variable "log_services" {
  description = "The systemd services on the instances whose output goes to /var/log/loyalty/<service>.log and from there to the service's log group"
  type        = list(string)
}

variable "log_retention_days" {
  type    = number
  default = 90
}
