################################################################################
# The REST API, built from the routes the function crates declare
# (manifest.json "routes" and "preflight", docs/artifacts.md)
################################################################################

locals {
  # "METHOD /path" => {function, method, path, authorized, preflight, path_parameters}
  routes = local.api.routes

  # Resources are created one depth at a time, each level under the one
  # above (a resource block cannot refer to its own instances).
  max_api_depth = 6
  resources_at  = { for d in range(1, local.max_api_depth + 1) : d => { for p, r in local.api.resources : p => r if r.depth == d } }
  resource_ids = merge(
    { for k, r in aws_api_gateway_resource.depth1 : k => r.id },
    { for k, r in aws_api_gateway_resource.depth2 : k => r.id },
    { for k, r in aws_api_gateway_resource.depth3 : k => r.id },
    { for k, r in aws_api_gateway_resource.depth4 : k => r.id },
    { for k, r in aws_api_gateway_resource.depth5 : k => r.id },
    { for k, r in aws_api_gateway_resource.depth6 : k => r.id },
  )

  authorized_routes = [for k, r in local.routes : k if r.authorized]

  # The one credential the authorizer reads is also what API Gateway
  # requires (401 without it, before the authorizer runs) and caches on.
  identity_sources = {
    cookie        = "method.request.header.Cookie"
    authorization = "method.request.header.Authorization"
  }

  # API Gateway's own errors (authorizer denials, throttling, unknown
  # routes, integration failures) carry CORS headers too, or a browser sees
  # them as opaque network errors. A gateway response can only hold fixed
  # values, so it names the first exact origin of the allow-list (put the
  # web app's first); the functions answer every other origin themselves.
  gateway_cors_origin = try([for o in var.cors_allowed_origins : o if !strcontains(o, "*")][0], null)
  gateway_response_headers = merge(
    local.gateway_cors_origin == null ? {} : {
      "gatewayresponse.header.Access-Control-Allow-Origin" = "'${local.gateway_cors_origin}'"
      "gatewayresponse.header.Vary"                        = "'Origin'"
    },
    local.gateway_cors_origin != null && var.cors_allow_credentials ? { "gatewayresponse.header.Access-Control-Allow-Credentials" = "'true'" } : {},
  )

  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    ip                 = "$context.identity.sourceIp"
    requestTime        = "$context.requestTime"
    httpMethod         = "$context.httpMethod"
    resourcePath       = "$context.resourcePath"
    status             = "$context.status"
    protocol           = "$context.protocol"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    integrationLatency = "$context.integrationLatency"
    integrationStatus  = "$context.integrationStatus"
    authorizerStatus   = "$context.authorizer.status"
    authorizerError    = "$context.authorizer.error"
    principalId        = "$context.authorizer.principalId"
    errorMessage       = "$context.error.message"
  })

  api_logs          = var.api_gateway_logging != "off"
  execution_logging = local.api_logs && var.api_logging_level != "OFF"
}

resource "aws_api_gateway_rest_api" "this" {
  #checkov:skip=CKV_AWS_237:a new REST API means a new id, so create-before-destroy cannot make a replacement seamless; changes go through new deployments of this one
  name        = var.name
  description = "lambda-forge API: routes declared by the function crates"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.create_cognito || (var.cognito_user_pool_id != null && var.cognito_client_id != null && var.cognito_domain != null)
      error_message = "With create_cognito = false, set cognito_user_pool_id, cognito_client_id and cognito_domain."
    }
    precondition {
      condition     = length(local.authorized_routes) == 0 || contains(keys(local.functions), var.authorizer_function)
      error_message = "Routes ${join(", ", local.authorized_routes)} need the authorizer, but the manifest in ${var.artifacts_dir} has no function \"${var.authorizer_function}\" (authorizer_function)."
    }
    precondition {
      condition     = local.api.max_depth <= local.max_api_depth
      error_message = "A declared path has ${local.api.max_depth} segments; this module builds resource trees up to ${local.max_api_depth} deep."
    }
    precondition {
      condition     = var.authorizer_credential_source != "cookie" || local.api_site == local.app_site
      error_message = "The auth cookies are SameSite=Lax: a browser on ${local.app_site} (app_url) never sends them to the API at ${local.api_host} (site ${local.api_site}), so every protected route would answer 401. Put the API on the app's site with domain_name (e.g. api.${replace(local.app_site, "/^https?:\\/\\//", "")}) or public_base_url, or use authorizer_credential_source = \"authorization\" for bearer-token clients."
    }
    precondition {
      condition     = var.cookie_domain == null ? true : (local.api_host == trimprefix(var.cookie_domain, ".") || endswith(local.api_host, ".${trimprefix(var.cookie_domain, ".")}"))
      error_message = "cookie_domain ${coalesce(var.cookie_domain, "-")} does not cover the API host ${local.api_host}, which sets the cookies: browsers would drop them."
    }
  }
}

resource "aws_api_gateway_resource" "depth1" {
  for_each = local.resources_at[1]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth2" {
  for_each = local.resources_at[2]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth1[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth3" {
  for_each = local.resources_at[3]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth2[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth4" {
  for_each = local.resources_at[4]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth3[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth5" {
  for_each = local.resources_at[5]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth4[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth6" {
  for_each = local.resources_at[6]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth5[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_authorizer" "this" {
  count = length(local.authorized_routes) > 0 ? 1 : 0

  name                             = "${var.name}-jwt"
  rest_api_id                      = aws_api_gateway_rest_api.this.id
  type                             = "REQUEST"
  authorizer_uri                   = aws_lambda_alias.this[var.authorizer_function].invoke_arn
  identity_source                  = local.identity_sources[var.authorizer_credential_source]
  authorizer_result_ttl_in_seconds = var.authorizer_result_ttl_in_seconds
}

resource "aws_api_gateway_method" "this" {
  #checkov:skip=CKV_AWS_59:routes declared authorized = false are public by design (OPTIONS preflights, the Twilio webhook, which sms verifies by signature, and /auth/*, which runs before there is a token); every other route uses the REQUEST authorizer
  #checkov:skip=CKV2_AWS_53:Lambda proxy integrations: each function validates its own input (JSON fields, form parameters, sizes) and answers 4xx with a JSON error itself
  for_each = local.routes

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.resource_ids[each.value.path]
  http_method   = each.value.method
  authorization = each.value.authorized ? "CUSTOM" : "NONE"
  authorizer_id = each.value.authorized ? aws_api_gateway_authorizer.this[0].id : null

  request_parameters = { for p in each.value.path_parameters : "method.request.path.${p}" => true }
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_method.this[each.key].resource_id
  http_method             = aws_api_gateway_method.this[each.key].http_method
  integration_http_method = "POST"
  type                    = "AWS_PROXY"
  uri                     = aws_lambda_alias.this[each.value.function].invoke_arn
}

resource "aws_lambda_permission" "route" {
  for_each = local.routes

  # Readable and unique: two paths may differ only in braces.
  statement_id  = "apigw-${each.value.method}-${substr(replace(trimprefix(each.value.path, "/"), "/[^A-Za-z0-9]+/", "-"), 0, 60)}-${substr(sha1(each.key), 0, 8)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.value.function].function_name
  qualifier     = aws_lambda_alias.this[each.value.function].name
  principal     = data.aws_service_principal.apigateway.name
  # Path parameters (greedy ones too) and ANY appear as "*" in execute-api ARNs.
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/${var.stage_name}/${each.value.method == "ANY" ? "*" : each.value.method}/${replace(trimprefix(each.value.path, "/"), "/\\{[^}]+\\}/", "*")}"
}

resource "aws_lambda_permission" "authorizer" {
  count = length(aws_api_gateway_authorizer.this)

  statement_id  = "apigw-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[var.authorizer_function].function_name
  qualifier     = aws_lambda_alias.this[var.authorizer_function].name
  principal     = data.aws_service_principal.apigateway.name
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.this[0].id}"
}

# DEFAULT_4XX and DEFAULT_5XX cover every response API Gateway makes itself:
# UNAUTHORIZED (no credential), ACCESS_DENIED (authorizer Deny),
# AUTHORIZER_FAILURE and AUTHORIZER_CONFIGURATION_ERROR, THROTTLED,
# MISSING_AUTHENTICATION_TOKEN (no such route), INTEGRATION_FAILURE...
# The body has the functions' error shape.
resource "aws_api_gateway_gateway_response" "default" {
  for_each = toset(["DEFAULT_4XX", "DEFAULT_5XX"])

  rest_api_id         = aws_api_gateway_rest_api.this.id
  response_type       = each.key
  response_parameters = local.gateway_response_headers
  response_templates = {
    "application/json" = "{\"error\":{\"code\":\"$context.error.responseType\",\"message\":$context.error.messageString}}"
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Routes ${sha1(jsonencode(local.routes))}"

  # Redeploy whenever a route, its target, the authorizer or a gateway
  # response changes; the aliases keep integration URIs stable across
  # function versions.
  triggers = {
    redeployment = sha1(jsonencode([
      local.api.resources,
      local.routes,
      [for k in keys(local.routes) : aws_api_gateway_integration.this[k].uri],
      [for a in aws_api_gateway_authorizer.this : [a.identity_source, a.authorizer_result_ttl_in_seconds, a.authorizer_uri]],
      [for k, r in aws_api_gateway_gateway_response.default : [r.response_parameters, r.response_templates]],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_method.this, aws_api_gateway_integration.this, aws_api_gateway_gateway_response.default]
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:a customer-managed key is optional (var.kms_key_arn); CloudWatch Logs encrypts with its own key otherwise
  #checkov:skip=CKV_AWS_338:retention is a deployment choice (var.log_retention_in_days, default 30 days), not fixed at one year
  count = local.api_logs ? 1 : 0

  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# API Gateway writes execution logs to this group, creating it without
# retention or encryption unless it exists first.
resource "aws_cloudwatch_log_group" "api_execution" {
  #checkov:skip=CKV_AWS_158:a customer-managed key is optional (var.kms_key_arn); CloudWatch Logs encrypts with its own key otherwise
  #checkov:skip=CKV_AWS_338:retention is a deployment choice (var.log_retention_in_days, default 30 days), not fixed at one year
  count = local.execution_logging ? 1 : 0

  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

module "api_gateway_account" {
  source = "./modules/api-gateway-account"
  count  = var.api_gateway_logging == "manage" ? 1 : 0

  name                 = "${var.name}-apigateway-logs"
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

# Before the account role moved into modules/api-gateway-account these were
# managed here (manage_api_gateway_account). Upgrading forgets them instead
# of destroying them: destroying the account setting resets the region's
# CloudWatch role for every API (provider 6.x).
removed {
  from = aws_api_gateway_account.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role_policy_attachment.api_gateway_logs
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role.api_gateway_logs
  lifecycle {
    destroy = false
  }
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:responses are per user (cookies) or one-off webhooks; a response cache would serve one user's data to another
  #checkov:skip=CKV_AWS_73:X-Ray is optional (var.tracing_enabled)
  #checkov:skip=CKV2_AWS_51:browsers and Twilio cannot present client certificates; callers are authenticated by JWT or Twilio signature
  #checkov:skip=CKV2_AWS_77:a WAF web ACL is optional (var.web_acl_arn); its rule set is chosen by the caller
  #checkov:skip=CKV2_AWS_29:a WAF web ACL is optional (var.web_acl_arn) and costs per ACL; throttling is always on
  #checkov:skip=CKV2_AWS_4:the execution logging level is set in aws_api_gateway_method_settings (var.api_logging_level when var.api_gateway_logging is on)
  #checkov:skip=CKV_AWS_76:access logs need the region's API Gateway CloudWatch role, which a fresh account lacks; they are on with var.api_gateway_logging = "existing" or "manage"
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.tracing_enabled

  dynamic "access_log_settings" {
    for_each = aws_cloudwatch_log_group.api_access

    content {
      destination_arn = access_log_settings.value.arn
      format          = local.access_log_format
    }
  }

  tags = var.tags

  depends_on = [module.api_gateway_account, aws_cloudwatch_log_group.api_execution]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:no response caching, see the stage (per-user responses)
  #checkov:skip=CKV_AWS_308:no response caching, so there is no cache to encrypt
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = var.api_metrics_enabled
    logging_level          = local.execution_logging ? var.api_logging_level : "OFF"
    data_trace_enabled     = false
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.web_acl_arn
}
