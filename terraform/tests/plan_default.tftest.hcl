# The default configuration, planned against the real AWS provider schema
# with mocked answers (tests/mocks): the required inputs only, plus the
# custom domain that the default cookie-based sign-in needs
# (tests/terraform.tfvars).
#
# Every plan run expects check.deployed_code_is_the_build to be unknown:
# Lambda reports the deployed code only once the functions exist.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "deploys_every_function_and_layer_of_the_manifest" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = jsonencode(sort(keys(aws_lambda_function.this))) == jsonencode(["auth", "authorizer", "cors", "sms", "users"]) && jsonencode(keys(aws_lambda_layer_version.this)) == jsonencode(["telemetry"])
    error_message = "functions ${jsonencode(keys(aws_lambda_function.this))}, layers ${jsonencode(keys(aws_lambda_layer_version.this))}"
  }
  assert {
    condition     = aws_lambda_function.this["sms"].memory_size == 256 && aws_lambda_function.this["sms"].timeout == 12
    error_message = "memory and timeout come from the manifest"
  }
  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : f.source_code_hash == filebase64sha256(f.filename) && jsonencode(f.architectures) == jsonencode(["arm64"]) && f.runtime == "provided.al2023"])
    error_message = "each function is its zip from the manifest, arm64, provided.al2023"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.logging_config[0].log_format == "JSON" && f.logging_config[0].application_log_level == "INFO" && f.logging_config[0].system_log_level == "INFO"])
    error_message = "JSON logs with INFO application and system levels by default"
  }
}

run "builds_the_api_from_the_declared_routes" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    # 13 declared routes plus OPTIONS on each of the 8 distinct declared paths.
    condition     = length(aws_api_gateway_method.this) == 21 && length(aws_api_gateway_integration.this) == 21 && length(aws_lambda_permission.route) == 21
    error_message = "methods ${jsonencode(keys(aws_api_gateway_method.this))}"
  }
  assert {
    condition     = jsonencode(sort(keys(aws_api_gateway_resource.depth1))) == jsonencode(["/auth", "/sms", "/users"]) && length(aws_api_gateway_resource.depth2) == 7 && length(aws_api_gateway_resource.depth3) == 0
    error_message = "resources ${jsonencode([keys(aws_api_gateway_resource.depth1), keys(aws_api_gateway_resource.depth2)])}"
  }
  assert {
    condition     = aws_api_gateway_resource.depth2["/users/{id}"].path_part == "{id}" && jsonencode(aws_api_gateway_method.this["DELETE /users/{id}"].request_parameters) == jsonencode({ "method.request.path.id" = true })
    error_message = "path parameters become method request parameters"
  }
  assert {
    condition     = alltrue([for k, m in aws_api_gateway_method.this : m.authorization == (startswith(k, "OPTIONS ") || startswith(k, "POST /sms/") || startswith(k, "GET /auth/") || startswith(k, "POST /auth/") ? "NONE" : "CUSTOM")])
    error_message = "only /users routes use the authorizer: ${jsonencode({ for k, m in aws_api_gateway_method.this : k => m.authorization })}"
  }
  assert {
    condition     = sort([for k, m in aws_api_gateway_method.this : trimprefix(k, "OPTIONS ") if m.http_method == "OPTIONS"]) == sort(distinct([for k, m in aws_api_gateway_method.this : split(" ", k)[1] if m.http_method != "OPTIONS"]))
    error_message = "every declared path, and only those, answers OPTIONS"
  }
  assert {
    condition     = output.routes["OPTIONS /users/{id}"] == "cors" && output.routes["POST /sms/inbound"] == "sms" && output.routes["GET /auth/callback"] == "auth"
    error_message = jsonencode(output.routes)
  }
}

run "uses_the_custom_domain_for_every_public_url" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_api_gateway_domain_name.api[0].domain_name == "api.example.com" && aws_api_gateway_domain_name.api[0].regional_certificate_arn == var.certificate_arn && aws_api_gateway_domain_name.api[0].security_policy == "TLS_1_2"
    error_message = "a regional custom domain with the given certificate and TLS 1.2"
  }
  assert {
    condition     = length(aws_acm_certificate.api) == 0 && length(aws_route53_record.api) == 0 && aws_api_gateway_base_path_mapping.api[0].base_path == null
    error_message = "a given certificate and no zone: no certificate or DNS record created, stage mapped at the root"
  }
  assert {
    condition     = output.public_base_url == "https://api.example.com" && output.twilio_webhook_url == "https://api.example.com/sms/inbound"
    error_message = output.public_base_url
  }
  assert {
    condition     = local.environment["sms"]["PUBLIC_WEBHOOK_URL"] == "https://api.example.com/sms/inbound" && local.environment["auth"]["REDIRECT_URI"] == "https://api.example.com/auth/callback"
    error_message = "sms verifies Twilio signatures against, and Cognito redirects to, the custom domain"
  }
  assert {
    condition     = aws_cognito_user_pool_client.this[0].callback_urls == toset(["https://api.example.com/auth/callback"]) && aws_cognito_user_pool_client.this[0].logout_urls == toset(["https://app.example.com"])
    error_message = "callback on the API, sign-out back to the app"
  }
}

run "cognito_domain_prefix_is_unique_per_account" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_cognito_user_pool_domain.this[0].domain == "lambda-forge-123456789012"
    error_message = aws_cognito_user_pool_domain.this[0].domain
  }
  assert {
    condition     = local.environment["auth"]["COGNITO_DOMAIN"] == "lambda-forge-123456789012.auth.eu-west-1.amazoncognito.com"
    error_message = local.environment["auth"]["COGNITO_DOMAIN"]
  }
}

run "writes_no_api_gateway_logs_without_the_account_role" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = length(module.api_gateway_account) == 0 && length(aws_cloudwatch_log_group.api_access) == 0 && length(aws_cloudwatch_log_group.api_execution) == 0
    error_message = "off by default: no account role, no API Gateway log group"
  }
  assert {
    condition     = length(aws_api_gateway_stage.this.access_log_settings) == 0 && aws_api_gateway_method_settings.all.settings[0].logging_level == "OFF"
    error_message = "neither access nor execution logging without the account role (apply would fail)"
  }
}

run "gateway_errors_carry_the_cors_headers_of_the_allow_list" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = jsonencode(sort(keys(aws_api_gateway_gateway_response.default))) == jsonencode(["DEFAULT_4XX", "DEFAULT_5XX"])
    error_message = "both default gateway responses"
  }
  assert {
    condition = alltrue([for r in aws_api_gateway_gateway_response.default : r.response_parameters == tomap({
      "gatewayresponse.header.Access-Control-Allow-Origin"      = "'https://app.example.com'"
      "gatewayresponse.header.Access-Control-Allow-Credentials" = "'true'"
      "gatewayresponse.header.Vary"                             = "'Origin'"
    })])
    error_message = jsonencode(aws_api_gateway_gateway_response.default["DEFAULT_4XX"].response_parameters)
  }
  assert {
    condition     = can(jsondecode(replace(replace(aws_api_gateway_gateway_response.default["DEFAULT_4XX"].response_templates["application/json"], "$context.error.messageString", "\"m\""), "$context.error.responseType", "T")).error.code)
    error_message = "the body has the functions' JSON error shape"
  }
}

run "grants_each_function_exactly_its_policy" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = jsonencode([for s in local.function_statements["users"] : s.Sid]) == jsonencode(["Logs", "Profiles", "PhoneClaims", "TwilioSecret"])
    error_message = jsonencode([for s in local.function_statements["users"] : s.Sid])
  }
  assert {
    condition     = jsonencode(local.function_statements["users"][1].Action) == jsonencode(["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]) && jsonencode(local.function_statements["users"][2].Action) == jsonencode(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]) && jsonencode(local.function_statements["users"][3].Action) == jsonencode(["secretsmanager:GetSecretValue"])
    error_message = "users: profiles read, listed and written in transactions; phone claims read (whose number is it), put and deleted; the Twilio credentials read to text verification codes"
  }
  assert {
    condition     = !contains(keys(local.environment["users"]), "SMS_FROM") && !contains(keys(local.environment["users"]), "TWILIO_SECRET_ID")
    error_message = "without phone_verification_from, users gets no half phone-proof configuration (it would refuse to start)"
  }
  assert {
    condition     = jsonencode([for s in local.function_statements["auth"] : s.Sid]) == jsonencode(["Logs", "OwnProfile", "Secret"])
    error_message = "auth calls Cognito only through unsigned APIs: no cognito-idp statement"
  }
  assert {
    condition     = jsonencode([for s in local.function_statements["cors"] : s.Sid]) == jsonencode(["Logs"]) && jsonencode([for s in local.function_statements["authorizer"] : s.Sid]) == jsonencode(["Logs"])
    error_message = "cors and the authorizer only write logs"
  }
  assert {
    condition     = jsonencode([for s in local.function_statements["sms"] : s.Sid]) == jsonencode(["Logs", "RecordInbound", "Secret"]) && jsonencode(local.function_statements["sms"][1].Action) == jsonencode(["dynamodb:PutItem"])
    error_message = "the sms webhook only records inbound messages (the worker's statements: tests/sms_worker.tftest.hcl)"
  }
  assert {
    condition     = jsondecode(aws_iam_role.function["sms"].assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = aws_iam_role.function["sms"].assume_role_policy
  }
}

run "generates_the_cursor_key_into_its_secret" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_secretsmanager_secret.cursor[0].name == "lambda-forge/users-cursor-key" && length(aws_secretsmanager_secret_version.cursor) == 1
    error_message = "the cursor key lives in its own secret"
  }
  assert {
    condition     = jsonencode(sort(keys(aws_secretsmanager_secret.this))) == jsonencode(["auth", "sms"]) && aws_secretsmanager_secret.this["sms"].recovery_window_in_days == 30
    error_message = "the two secrets whose values are put outside Terraform, with a 30-day recovery window"
  }
}
