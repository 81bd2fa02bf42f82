################################################################################
# Where the API is reached: a custom domain on the web app's site
################################################################################

locals {
  custom_domain      = var.domain_name != null
  create_certificate = local.custom_domain && var.certificate_arn == null
  # DNS validation through the zone when the module creates the certificate.
  certificate_arn = local.create_certificate ? try(aws_acm_certificate_validation.api[0].certificate_arn, null) : var.certificate_arn

  # Built without the stage resource, so that function settings do not
  # depend on the deployment; partition-aware (execute-api's DNS suffix).
  execute_api_url = "https://${aws_api_gateway_rest_api.this.id}.${data.aws_service.execute_api.dns_name}/${var.stage_name}"
  api_base_url = trimsuffix(
    var.public_base_url != null ? var.public_base_url : (
      local.custom_domain ? "https://${var.domain_name}${var.base_path == null ? "" : "/${var.base_path}"}" : local.execute_api_url
    ),
    "/",
  )
  auth_callback = "${local.api_base_url}/auth/callback"
  callback_urls = length(var.callback_urls) > 0 ? var.callback_urls : [local.auth_callback]
  logout_urls   = length(var.logout_urls) > 0 ? var.logout_urls : [var.app_url]

  # The API's host, known at plan time: without a domain it is
  # <id>.execute-api.<region>.<suffix>, whose site does not depend on <id>.
  api_host = lower(
    var.public_base_url != null ? regex("^https://([^/:?#]+)", var.public_base_url)[0] : (
      local.custom_domain ? var.domain_name : "*.${data.aws_service.execute_api.dns_name}"
    )
  )
  app_scheme = lower(regex("^(https?)://", var.app_url)[0])
  app_host   = lower(regex("^https?://([^/:?#]+)", var.app_url)[0])

  # A browser's "site" is scheme plus registrable domain (the public suffix
  # plus one label). Without the public suffix list this takes the last two
  # labels, or three under a two-letter country code whose second level is a
  # common generic one (co.uk, com.au, ...): enough to tell an API on
  # execute-api or another company's domain from one next to the app.
  api_labels    = split(".", local.api_host)
  app_labels    = split(".", local.app_host)
  second_levels = ["ac", "co", "com", "edu", "gov", "ltd", "ne", "net", "or", "org", "plc", "sch"]
  api_site_labels = (
    length(local.api_labels) >= 3 && length(local.api_labels[length(local.api_labels) - 1]) == 2 && contains(local.second_levels, local.api_labels[length(local.api_labels) - 2]) ? 3 : 2
  )
  app_site_labels = (
    length(local.app_labels) >= 3 && length(local.app_labels[length(local.app_labels) - 1]) == 2 && contains(local.second_levels, local.app_labels[length(local.app_labels) - 2]) ? 3 : 2
  )
  api_site = "https://${join(".", slice(local.api_labels, max(0, length(local.api_labels) - local.api_site_labels), length(local.api_labels)))}"
  app_site = "${local.app_scheme}://${join(".", slice(local.app_labels, max(0, length(local.app_labels) - local.app_site_labels), length(local.app_labels)))}"
}

resource "aws_acm_certificate" "api" {
  count = local.create_certificate ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.route53_zone_id != null
      error_message = "domain_name ${coalesce(var.domain_name, "-")} needs a certificate: give certificate_arn (an ACM certificate in this region), or route53_zone_id so that the module creates one and validates it in DNS."
    }
  }
}

# Keyed by the domain, known at plan time (the validation record itself is not).
resource "aws_route53_record" "certificate_validation" {
  for_each = local.create_certificate && var.route53_zone_id != null ? toset([var.domain_name]) : toset([])

  zone_id         = var.route53_zone_id
  name            = one([for o in aws_acm_certificate.api[0].domain_validation_options : o.resource_record_name if o.domain_name == each.key])
  type            = one([for o in aws_acm_certificate.api[0].domain_validation_options : o.resource_record_type if o.domain_name == each.key])
  records         = [one([for o in aws_acm_certificate.api[0].domain_validation_options : o.resource_record_value if o.domain_name == each.key])]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  count = length(aws_route53_record.certificate_validation) > 0 ? 1 : 0

  certificate_arn         = aws_acm_certificate.api[0].arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}

resource "aws_api_gateway_domain_name" "api" {
  count = local.custom_domain ? 1 : 0

  domain_name              = var.domain_name
  regional_certificate_arn = local.certificate_arn
  security_policy          = "TLS_1_2"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags
}

resource "aws_api_gateway_base_path_mapping" "api" {
  count = local.custom_domain ? 1 : 0

  api_id      = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  domain_name = aws_api_gateway_domain_name.api[0].domain_name
  base_path   = var.base_path
}

resource "aws_route53_record" "api" {
  for_each = local.custom_domain && var.route53_zone_id != null ? toset(["A", "AAAA"]) : toset([])

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = each.key

  alias {
    name                   = aws_api_gateway_domain_name.api[0].regional_domain_name
    zone_id                = aws_api_gateway_domain_name.api[0].regional_zone_id
    evaluate_target_health = false
  }
}
