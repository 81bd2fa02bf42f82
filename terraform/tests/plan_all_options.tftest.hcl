# Every option switched on at once, planned against the real AWS provider
# schema with mocked answers: each input must reach the resource it is for.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir = "tests/fixtures/artifacts"
  name          = "shop"
  tags          = { Team = "sms" }
  kms_key_arn   = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222"

  external_layers = {
    vendor-observability = {
      arn            = "arn:aws:lambda:eu-west-1:999999999999:layer:vendor:7"
      unzipped_bytes = 83886080
      attach_to      = ["*"]
    }
  }

  log_retention_in_days          = 90
  phone_verification_from        = "+15550100"
  memory_size                    = { users = 512 }
  timeout                        = { auth = 20 }
  reserved_concurrent_executions = { sms = 10 }
  extra_environment              = { sms = { OPENAI_MODEL = "gpt-4o-mini" } }
  extra_policy_statements = {
    users = [{
      sid        = "ReadExports"
      actions    = ["s3:GetObject"]
      resources  = ["arn:aws:s3:::shop-exports/*"]
      conditions = [{ test = "StringEquals", variable = "s3:ExistingObjectTag/team", values = ["sms"] }]
    }]
  }
  tracing_enabled        = true
  permissions_boundary   = "arn:aws:iam::123456789012:policy/boundary"
  function_alias         = "prod"
  function_versions      = { sms = "3" }
  layer_skip_destroy     = false
  log_format             = "JSON"
  application_log_level  = "WARN"
  application_log_levels = { auth = "DEBUG" }
  system_log_level       = "WARN"

  dynamodb_deletion_protection   = false
  secret_recovery_window_in_days = 0

  admin_group                    = "admins"
  cognito_domain_prefix          = "shop-login"
  cognito_deletion_protection    = false
  cognito_generate_client_secret = true
  callback_urls                  = ["https://api.shop.example.com/v1/auth/callback", "http://localhost:3000/auth/callback"]
  logout_urls                    = ["https://app.shop.example.com/bye"]
  oauth_scopes                   = ["openid", "email"]
  refresh_token_validity_days    = 7
  access_token_validity_minutes  = 15

  app_url                = "https://app.shop.example.com"
  cookie_domain          = "shop.example.com"
  cors_allowed_origins   = ["https://*.shop.example.com", "https://app.shop.example.com"]
  cors_allow_credentials = true

  stage_name                       = "prod"
  domain_name                      = "api.shop.example.com"
  certificate_arn                  = null # created and validated through the zone
  route53_zone_id                  = "Z0123456789"
  base_path                        = "v1"
  throttling_rate_limit            = 20
  throttling_burst_limit           = 40
  api_gateway_logging              = "manage"
  api_logging_level                = "INFO"
  api_metrics_enabled              = false
  authorizer_credential_source     = "cookie"
  authorizer_result_ttl_in_seconds = 60
  web_acl_arn                      = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/shop/abc"
}

run "functions_get_every_override_and_extension" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_lambda_function.this["users"].memory_size == 512 && aws_lambda_function.this["auth"].timeout == 20 && aws_lambda_function.this["sms"].reserved_concurrent_executions == 10
    error_message = "memory, timeout and reserved concurrency overrides"
  }
  assert {
    condition     = local.environment["sms"]["OPENAI_MODEL"] == "gpt-4o-mini" && local.environment["auth"]["COOKIE_DOMAIN"] == "shop.example.com" && local.environment["users"]["ADMIN_GROUP"] == "admins"
    error_message = "extra environment, cookie domain and admin group reach the functions"
  }
  assert {
    condition     = local.environment["users"]["SMS_FROM"] == "+15550100" && contains(keys(local.environment["users"]), "TWILIO_SECRET_ID")
    error_message = "phone_verification_from turns on users' phone proofs: SMS_FROM and the sms secret's id"
  }
  assert {
    condition     = alltrue([for f in module.artifacts.functions : f.external_layer_arns == ["arn:aws:lambda:eu-west-1:999999999999:layer:vendor:7"]])
    error_message = "the external layer is attached to every function"
  }
  assert {
    condition     = aws_lambda_function.this["auth"].logging_config[0].application_log_level == "DEBUG" && aws_lambda_function.this["sms"].logging_config[0].application_log_level == "WARN" && aws_lambda_function.this["sms"].logging_config[0].system_log_level == "WARN"
    error_message = "per-function application log level over the default"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.kms_key_arn == var.kms_key_arn && f.tracing_config[0].mode == "Active" && f.tags == tomap({ Team = "sms" })])
    error_message = "KMS, X-Ray and tags on every function"
  }
  assert {
    condition     = aws_lambda_alias.this["sms"].name == "prod" && aws_lambda_alias.this["sms"].function_version == "3"
    error_message = "the pinned version behind the named alias"
  }
  assert {
    condition     = aws_lambda_layer_version.this["telemetry"].skip_destroy == false
    error_message = "layer_skip_destroy"
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.function : g.retention_in_days == 90 && g.kms_key_id == var.kms_key_arn])
    error_message = "log retention and key"
  }
}

run "roles_get_kms_xray_boundary_and_extra_statements" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = jsonencode([for s in local.function_statements["users"] : s.Sid]) == jsonencode(["Logs", "Profiles", "PhoneClaims", "TwilioSecret", "Kms", "XRay", "ReadExports"])
    error_message = jsonencode([for s in local.function_statements["users"] : s.Sid])
  }
  assert {
    condition     = jsonencode(local.function_statements["users"][6]) == jsonencode({ Sid = "ReadExports", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::shop-exports/*"], Condition = { StringEquals = { "s3:ExistingObjectTag/team" = ["sms"] } } })
    error_message = jsonencode(local.function_statements["users"][6])
  }
  assert {
    condition     = alltrue([for r in aws_iam_role.function : r.permissions_boundary == var.permissions_boundary])
    error_message = "permissions boundary on every role"
  }
}

run "data_and_identity_follow_the_inputs" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = alltrue([for t in aws_dynamodb_table.this : t.deletion_protection_enabled == false && t.server_side_encryption[0].kms_key_arn == var.kms_key_arn])
    error_message = "tables: deletion protection off, customer key"
  }
  assert {
    condition     = alltrue([for s in concat(values(aws_secretsmanager_secret.this), aws_secretsmanager_secret.cursor) : s.recovery_window_in_days == 0 && s.kms_key_id == var.kms_key_arn])
    error_message = "secrets: immediate deletion, customer key"
  }
  assert {
    condition     = aws_cognito_user_pool_domain.this[0].domain == "shop-login" && aws_cognito_user_pool.this[0].deletion_protection == "INACTIVE" && aws_cognito_user_group.admin[0].name == "admins"
    error_message = "Cognito prefix, deletion protection and admin group"
  }
  assert {
    condition     = aws_cognito_user_pool_client.this[0].generate_secret && aws_cognito_user_pool_client.this[0].refresh_token_validity == 7 && aws_cognito_user_pool_client.this[0].access_token_validity == 15 && aws_cognito_user_pool_client.this[0].allowed_oauth_scopes == toset(["openid", "email"])
    error_message = "app client settings"
  }
  assert {
    condition     = local.environment["auth"]["REDIRECT_URI"] == "https://api.shop.example.com/v1/auth/callback" && local.environment["auth"]["LOGOUT_URI"] == "https://app.shop.example.com/bye" && local.environment["auth"]["REFRESH_COOKIE_MAX_AGE_SECONDS"] == "604800"
    error_message = jsonencode(local.environment["auth"])
  }
}

run "custom_domain_with_a_created_certificate_and_dns" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_acm_certificate.api[0].domain_name == "api.shop.example.com" && aws_acm_certificate.api[0].validation_method == "DNS"
    error_message = "a DNS-validated certificate for the API domain"
  }
  assert {
    condition     = keys(aws_route53_record.certificate_validation) == ["api.shop.example.com"] && aws_route53_record.certificate_validation["api.shop.example.com"].zone_id == "Z0123456789" && length(aws_acm_certificate_validation.api) == 1
    error_message = "its validation record in the zone, and a wait for the certificate"
  }
  assert {
    condition     = jsonencode(sort(keys(aws_route53_record.api))) == jsonencode(["A", "AAAA"]) && alltrue([for r in aws_route53_record.api : r.name == "api.shop.example.com" && r.zone_id == "Z0123456789"])
    error_message = "A and AAAA aliases to the API"
  }
  assert {
    condition     = aws_api_gateway_base_path_mapping.api[0].base_path == "v1" && aws_api_gateway_base_path_mapping.api[0].stage_name == "prod"
    error_message = "the stage mapped under /v1"
  }
  assert {
    condition     = output.public_base_url == "https://api.shop.example.com/v1" && local.environment["sms"]["PUBLIC_WEBHOOK_URL"] == "https://api.shop.example.com/v1/sms/inbound"
    error_message = output.public_base_url
  }
}

run "api_gateway_logging_with_the_managed_account_role" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = length(module.api_gateway_account) == 1
    error_message = "the account role is created and registered"
  }
  assert {
    condition     = aws_cloudwatch_log_group.api_access[0].name == "/aws/apigateway/shop/prod/access" && length(aws_api_gateway_stage.this.access_log_settings) == 1
    error_message = "access logs to their group"
  }
  assert {
    condition     = length(aws_cloudwatch_log_group.api_execution) == 1 && aws_cloudwatch_log_group.api_execution[0].retention_in_days == 90 && aws_cloudwatch_log_group.api_execution[0].kms_key_id == var.kms_key_arn
    error_message = "API Gateway's execution log group is managed: retention and key"
  }
  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].logging_level == "INFO" && !aws_api_gateway_method_settings.all.settings[0].metrics_enabled && aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit == 20 && aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit == 40
    error_message = "execution logging level, metrics, throttling"
  }
  assert {
    condition     = aws_api_gateway_stage.this.xray_tracing_enabled && length(aws_wafv2_web_acl_association.this) == 1 && aws_api_gateway_authorizer.this[0].authorizer_result_ttl_in_seconds == 60
    error_message = "X-Ray on the stage, the web ACL, the authorizer cache TTL"
  }
}

run "gateway_errors_name_the_first_exact_origin" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_api_gateway_gateway_response.default["DEFAULT_4XX"].response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://app.shop.example.com'"
    error_message = "a pattern cannot be a header value: the first exact origin is"
  }
}
