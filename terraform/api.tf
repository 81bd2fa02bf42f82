locals {
  # Resource tree: path => parent path (null for children of the root).
  api_resources = {
    "sms"           = null
    "auth"          = null
    "users"         = null
    "sms/inbound"   = "sms"
    "auth/login"    = "auth"
    "auth/callback" = "auth"
    "auth/refresh"  = "auth"
    "auth/logout"   = "auth"
    "users/me"      = "users"
    "users/{id}"    = "users"
  }

  # "METHOD path" => function and whether the authorizer guards it.
  # Twilio signs /sms/inbound and /auth/* runs before there is a token, so
  # neither has the authorizer; each function checks its own callers.
  function_routes = {
    "POST sms/inbound"  = { function = "sms", authorized = false }
    "GET auth/login"    = { function = "auth", authorized = false }
    "GET auth/callback" = { function = "auth", authorized = false }
    "POST auth/refresh" = { function = "auth", authorized = false }
    "POST auth/logout"  = { function = "auth", authorized = false }
    "GET users"         = { function = "users", authorized = true }
    "POST users"        = { function = "users", authorized = true }
    "GET users/me"      = { function = "users", authorized = true }
    "PATCH users/me"    = { function = "users", authorized = true }
    "GET users/{id}"    = { function = "users", authorized = true }
    "PUT users/{id}"    = { function = "users", authorized = true }
    "PATCH users/{id}"  = { function = "users", authorized = true }
    "DELETE users/{id}" = { function = "users", authorized = true }
  }

  # Browsers send preflights without credentials: every resource answers
  # OPTIONS through the cors function, unauthenticated.
  preflight_routes = { for path in keys(local.api_resources) : "OPTIONS ${path}" => { function = "cors", authorized = false } }

  routes = {
    for key, r in merge(local.function_routes, local.preflight_routes) : key => merge(r, {
      method = split(" ", key)[0]
      path   = split(" ", key)[1]
    })
  }

  resource_ids = merge(
    { for k, r in aws_api_gateway_resource.top : k => r.id },
    { for k, r in aws_api_gateway_resource.child : k => r.id },
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
}

resource "aws_api_gateway_rest_api" "this" {
  #checkov:skip=CKV_AWS_237:a new REST API means a new id and URL (Twilio webhook, callback URLs), so create-before-destroy cannot make a replacement seamless; deployments use it instead
  name        = var.name
  description = "lambda-forge API: sms webhook, auth and users"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = alltrue([for f in local.routed_functions : contains(keys(local.functions), f)])
      error_message = "The API routes to ${join(", ", local.routed_functions)}; the manifest in ${var.artifacts_dir} lacks ${join(", ", setsubtract(local.routed_functions, keys(local.functions)))}."
    }
    precondition {
      condition     = var.create_cognito || (var.cognito_user_pool_id != null && var.cognito_client_id != null && var.cognito_domain != null)
      error_message = "With create_cognito = false, set cognito_user_pool_id, cognito_client_id and cognito_domain."
    }
  }
}

resource "aws_api_gateway_resource" "top" {
  for_each = { for path, parent in local.api_resources : path => path if parent == null }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value
}

resource "aws_api_gateway_resource" "child" {
  for_each = { for path, parent in local.api_resources : path => parent if parent != null }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.top[each.value].id
  path_part   = element(split("/", each.key), 1)
}

resource "aws_api_gateway_authorizer" "this" {
  name                             = "${var.name}-jwt"
  rest_api_id                      = aws_api_gateway_rest_api.this.id
  type                             = "REQUEST"
  authorizer_uri                   = aws_lambda_alias.this["authorizer"].invoke_arn
  identity_source                  = join(",", var.authorizer_identity_sources)
  authorizer_result_ttl_in_seconds = var.authorizer_result_ttl_in_seconds
}

resource "aws_api_gateway_method" "this" {
  #checkov:skip=CKV_AWS_59:OPTIONS preflights, the Twilio webhook (signature-checked by sms) and /auth/* (no token yet) are public by design; every other route uses the REQUEST authorizer
  #checkov:skip=CKV2_AWS_53:proxy integrations: each function validates its own input (JSON fields, form parameters, sizes) and answers 4xx itself
  for_each = local.routes

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.resource_ids[each.value.path]
  http_method   = each.value.method
  authorization = each.value.authorized ? "CUSTOM" : "NONE"
  authorizer_id = each.value.authorized ? aws_api_gateway_authorizer.this.id : null

  request_parameters = strcontains(each.value.path, "{id}") ? { "method.request.path.id" = true } : {}
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

  statement_id  = "apigw-${each.value.method}-${replace(replace(each.value.path, "/[{}]/", ""), "/", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.value.function].function_name
  qualifier     = aws_lambda_alias.this[each.value.function].name
  principal     = "apigateway.amazonaws.com"
  # Path parameters appear as "*" in execute-api ARNs.
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/${var.stage_name}/${each.value.method}/${replace(each.value.path, "/\\{[^}]+\\}/", "*")}"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "apigw-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["authorizer"].function_name
  qualifier     = aws_lambda_alias.this["authorizer"].name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.this.id}"
}

# API Gateway's own 401/403 (authorizer denials) carry no CORS headers, so a
# browser could not read them; with a single allowed origin we can add them
# statically. With several, the web app treats an opaque failure as 401.
resource "aws_api_gateway_gateway_response" "cors" {
  for_each = length(var.cors_allowed_origins) == 1 && !strcontains(var.cors_allowed_origins[0], "*") ? toset(["UNAUTHORIZED", "ACCESS_DENIED"]) : toset([])

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key

  response_parameters = merge(
    {
      "gatewayresponse.header.Access-Control-Allow-Origin" = "'${var.cors_allowed_origins[0]}'"
      "gatewayresponse.header.Vary"                        = "'Origin'"
    },
    var.cors_allow_credentials ? { "gatewayresponse.header.Access-Control-Allow-Credentials" = "'true'" } : {},
  )
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Routes ${sha1(jsonencode(local.routes))}"

  # Redeploy whenever a route, its target or the authorizer changes; the
  # aliases keep integration URIs stable across function versions.
  triggers = {
    redeployment = sha1(jsonencode([
      local.api_resources,
      local.routes,
      [for k in keys(local.routes) : aws_api_gateway_integration.this[k].uri],
      aws_api_gateway_authorizer.this.identity_source,
      aws_api_gateway_authorizer.this.authorizer_result_ttl_in_seconds,
      [for k, r in aws_api_gateway_gateway_response.cors : r.response_parameters],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_method.this, aws_api_gateway_integration.this]
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:a customer-managed key is optional (var.kms_key_arn); CloudWatch Logs encrypts with its own key otherwise
  #checkov:skip=CKV_AWS_338:retention is a deployment choice (var.log_retention_in_days), not fixed at one year
  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:responses are per user (cookies) or one-off webhooks; a response cache would serve one user's data to another
  #checkov:skip=CKV_AWS_73:X-Ray is optional (var.tracing_enabled)
  #checkov:skip=CKV2_AWS_51:browsers and Twilio cannot present client certificates; callers are authenticated by JWT or Twilio signature
  #checkov:skip=CKV2_AWS_77:a WAF web ACL is optional (var.web_acl_arn); its rule set is chosen by the caller
  #checkov:skip=CKV2_AWS_29:a WAF web ACL is optional (var.web_acl_arn) and costs per ACL; throttling is always on
  #checkov:skip=CKV2_AWS_4:the execution logging level is set in aws_api_gateway_method_settings (var.api_logging_level)
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.tracing_enabled

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format          = local.access_log_format
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:no response caching, see the stage (per-user responses)
  #checkov:skip=CKV_AWS_308:no response caching, so there is no cache to encrypt
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = var.api_metrics_enabled
    logging_level          = var.api_logging_level
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
