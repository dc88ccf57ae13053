mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  vpc_cidr        = "10.0.0.0/16"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/mock"
  router_ami_id   = "ami-0123456789abcdef0"
  releases = {
    router  = { bucket = "releases-eu", key = "loyalty-router/1.0.0", sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
    console = { bucket = "releases-eu", key = "loyalty-web/1.0.0", sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" }
  }
  internal_ca_bundle            = { bucket = "releases-eu", key = "ca/internal.pem", sha256 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" }
  console_host                  = "console.loyalty.test"
  console_session_key_parameter = "/loyalty/test/console-session-key"
  proxy_token_parameter         = "/loyalty/test/proxy-token"
  region_cidrs                  = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]
  service_token_parameter       = "/loyalty/test/service-token"
  kms_key_arn                   = "arn:aws:kms:eu-west-1:123456789012:key/mock"
  access_logs_bucket            = "loyalty-test-alb-logs"
  regions = {
    "001" = { name = "Europe", url = "https://api-001.loyalty.internal" }
    "002" = { name = "Americas", url = "https://api-002.loyalty.internal" }
    "003" = { name = "Asia-Pacific", url = "https://api-003.loyalty.internal" }
  }
  verifying_keys = { "001k1" = "pub-001", "002k1" = "pub-002", "003k1" = "pub-003" }
}

run "public_alb_is_https_with_redirect_and_hardened" {
  command = apply

  assert {
    condition     = module.router.listener.protocol == "HTTPS" && module.router.listener.port == 443
    error_message = "An HTTPS listener on 443."
  }
  assert {
    condition     = aws_lb_listener.http_redirect.default_action[0].type == "redirect" && aws_lb_listener.http_redirect.default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "HTTP is redirected to HTTPS."
  }
  assert {
    condition     = aws_lb.public.drop_invalid_header_fields && aws_lb.public.enable_deletion_protection
    error_message = "Invalid headers dropped, deletion protection on."
  }
  assert {
    condition     = aws_lb.public.access_logs[0].enabled
    error_message = "Access logs on."
  }
}

run "routers_use_imdsv2_readyz_and_know_every_region" {
  command = apply

  assert {
    condition     = module.router.metadata_http_tokens == "required"
    error_message = "IMDSv2 must be required."
  }
  assert {
    condition     = module.router.health_check_path == "/readyz"
    error_message = "The load balancer routes on /readyz."
  }
  assert {
    condition     = (module.router.autoscaling_health_check_type == "EC2" && strcontains(module.router.user_data, "http://127.0.0.1:8080/healthz"))
    error_message = "Routers are replaced on EC2 health; a hung router is restarted by its /healthz watchdog."
  }
  assert {
    condition     = length(regexall("\\[\\[regions\\]\\]", module.router.user_data)) == 3
    error_message = "The router's configuration lists the three regions."
  }
  assert {
    condition     = strcontains(module.router.user_data, "[auth.verifying_keys]\n001k1 = \"pub-001\"\n002k1 = \"pub-002\"\n003k1 = \"pub-003\"")
    error_message = "The router's configuration holds every region's token public key."
  }
  assert {
    condition     = module.router.instance_refresh_strategy == "Rolling"
    error_message = "Rolling instance refresh."
  }
}

run "routers_fetch_checked_artefacts_and_reach_only_the_regions" {
  command = apply

  assert {
    condition     = (!strcontains(module.router.user_data, "apt-get") && strcontains(module.router.user_data, "sha256sum --check"))
    error_message = "Boot installs nothing from the internet; the binary's sha256 is checked."
  }
  assert {
    condition     = toset([for r in aws_vpc_security_group_egress_rule.router_https : r.cidr_ipv4]) == toset(["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"])
    error_message = "HTTPS out only to this VPC (endpoints) and the regions."
  }
  assert {
    condition     = strcontains(module.router.user_data, "ca_file = ")
    error_message = "Routers trust the internal CA for the regions' https URLs."
  }
}

run "the_console_runs_beside_each_router_behind_a_host_rule" {
  command = apply

  assert {
    condition     = output.console_rule.hosts == ["console.loyalty.test"] && output.console_rule.forwards_to
    error_message = "Requests for the console's host name go to the console's target group."
  }
  assert {
    condition     = output.console_rule.port == 8088 && output.console_rule.health_path == "/healthz"
    error_message = "The console's target group: port 8088, checked on /healthz."
  }
  assert {
    condition     = contains([for r in aws_vpc_security_group_ingress_rule.router_from_alb : r.from_port], 8088) && contains([for r in aws_vpc_security_group_egress_rule.alb_to_routers : r.to_port], 8088)
    error_message = "The public ALB reaches the console's port, and the instances take it from the ALB only."
  }
  assert {
    condition     = strcontains(module.router.user_data, "LOYALTY_WEB_PLATFORM_URL=http://127.0.0.1:8080") && strcontains(module.router.user_data, "LOYALTY_WEB_SECURE_COOKIES=true")
    error_message = "The console calls the router on loopback and marks its cookie Secure (TLS ends at the ALB)."
  }
  assert {
    condition     = strcontains(module.router.user_data, "LOYALTY_ROUTER_LIMITS__PROXY_TOKEN=$proxy_token") && strcontains(module.router.user_data, "LOYALTY_WEB_PROXY_TOKEN=$proxy_token")
    error_message = "Router and console share the proxy token, so the router counts each visitor's own address."
  }
  assert {
    condition     = strcontains(module.router.user_data, "LOYALTY_ROUTER_LIMITS__TRUSTED_PROXIES=[10.0.0.0/16]") && strcontains(module.router.user_data, "LOYALTY_WEB_TRUSTED_PROXIES=[10.0.0.0/16]")
    error_message = "Router and console believe X-Forwarded-For only from the VPC the load balancer connects from."
  }
  assert {
    condition     = strcontains(module.router.policy, "/loyalty/test/proxy-token") && strcontains(module.router.policy, "/loyalty/test/console-session-key")
    error_message = "The instances may read the console's secrets."
  }
}

run "alarms_cover_the_router_and_the_console" {
  command = apply

  assert {
    condition = toset(keys(module.router.alarms)) == toset([
      "loyalty-router-no-ready-instance", "loyalty-router-console-no-ready-instance", "loyalty-router-5xx", "loyalty-router-slow"
    ])
    error_message = "The routers and the console beside them each page when none is ready; the public ALB pages on 5xx and slow answers."
  }
  assert {
    condition = alltrue([for a in values(module.router.alarms) :
    a.alarm_actions == toset([module.router.alarm_topic.arn]) && a.ok_actions == toset([module.router.alarm_topic.arn])])
    error_message = "Every router alarm pages the router's topic when it fires and when it clears."
  }
  assert {
    condition     = module.router.alarm_topic.kms_key == var.kms_key_arn && length(module.router.alarm_topic.subscribers) == 0
    error_message = "The topic is encrypted with the key given, and pages nobody unless told whom."
  }
}

run "the_router_and_console_logs_outlive_their_instances" {
  command = apply

  assert {
    condition = alltrue([for service in ["loyalty-router", "loyalty-web"] :
      strcontains(module.router.user_data, "StandardOutput=append:/var/log/loyalty/${service}.log")
    && strcontains(module.router.user_data, "\"file_path\":\"/var/log/loyalty/${service}.log\",\"log_group_name\":\"/loyalty/loyalty-router\"")])
    error_message = "The router and the console each write a log file that the CloudWatch agent sends to the routers' log group."
  }
}

run "a_region_without_a_verifying_key_is_refused" {
  command = plan
  variables {
    verifying_keys = { "001k1" = "pub-001", "002k1" = "pub-002" }
  }
  expect_failures = [var.verifying_keys]
}
