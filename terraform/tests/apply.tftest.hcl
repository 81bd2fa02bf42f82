# The root module applied against mocked AWS answers (tests/mocks): what
# only exists once ids and ARNs are known, such as permission ARNs, the
# rendered policies and the check on deployed code.

mock_provider "aws" {
  source = "./tests/mocks"
}

# Bearer tokens, so that the API may stay on its execute-api URL.
variables {
  authorizer_credential_source = "authorization"
  domain_name                  = null
  certificate_arn              = null
}

run "permissions_are_scoped_to_each_method_and_path" {
  # The mocks give every function the same code_sha256, which is not the
  # build's: the check must report the functions as changed outside Terraform.
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_lambda_permission.route["GET /users/{id}"].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users/*"
    error_message = aws_lambda_permission.route["GET /users/{id}"].source_arn
  }
  assert {
    condition     = aws_lambda_permission.route["OPTIONS /sms/inbound"].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/OPTIONS/sms/inbound" && aws_lambda_permission.route["OPTIONS /sms/inbound"].qualifier == "live"
    error_message = aws_lambda_permission.route["OPTIONS /sms/inbound"].source_arn
  }
  assert {
    condition     = length(distinct([for p in aws_lambda_permission.route : "${p.function_name}/${p.statement_id}"])) == length(aws_lambda_permission.route)
    error_message = "statement ids collide"
  }
  assert {
    condition     = aws_lambda_permission.authorizer[0].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:abc123/authorizers/${aws_api_gateway_authorizer.this[0].id}"
    error_message = aws_lambda_permission.authorizer[0].source_arn
  }
}

run "without_a_domain_the_api_is_on_its_execute_api_url" {
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = output.twilio_webhook_url == "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/sms/inbound"
    error_message = output.twilio_webhook_url
  }
  assert {
    condition     = aws_lambda_function.this["sms"].environment[0].variables["PUBLIC_WEBHOOK_URL"] == output.twilio_webhook_url
    error_message = "sms verifies signatures against the URL Twilio is given"
  }
  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["APP_CLIENT_IDS"] == aws_cognito_user_pool_client.this[0].id
    error_message = "the authorizer accepts tokens of the app client"
  }
  assert {
    condition     = output.api_domain_target == null
    error_message = "no custom domain"
  }
}

run "renders_policies_with_the_real_arns" {
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = jsondecode(aws_iam_role_policy.function["users"].policy).Statement[1].Resource == ["arn:aws:dynamodb:eu-west-1:123456789012:table/mock"]
    error_message = aws_iam_role_policy.function["users"].policy
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.function["sms"].policy).Statement[1].Resource == ["arn:aws:dynamodb:eu-west-1:123456789012:table/mock"]
    error_message = aws_iam_role_policy.function["sms"].policy
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.function["cors"].policy).Statement[0].Resource == ["arn:aws:logs:eu-west-1:123456789012:log-group:mock:*"]
    error_message = aws_iam_role_policy.function["cors"].policy
  }
}

run "a_function_the_module_does_not_know_gets_its_route_and_logs_only" {
  variables {
    artifacts_dir = "tests/fixtures/one-function"
  }

  # Lambda reports the uploaded code: the check passes.
  override_resource {
    target = aws_lambda_function.this
    values = { code_sha256 = "onSZjeWcAtuD+jBW8mobHhHB5ptTmZK7375XBqlSd8Q=" }
  }

  assert {
    condition     = jsonencode(keys(aws_api_gateway_method.this)) == jsonencode(["GET /hello"]) && aws_api_gateway_method.this["GET /hello"].authorization == "NONE" && length(aws_api_gateway_authorizer.this) == 0
    error_message = "one public route, no authorizer, no preflight (the manifest names none)"
  }
  assert {
    condition     = jsonencode([for s in jsondecode(aws_iam_role_policy.function["hello"].policy).Statement : s.Sid]) == jsonencode(["Logs"])
    error_message = aws_iam_role_policy.function["hello"].policy
  }
  assert {
    condition     = aws_lambda_function.this["hello"].environment[0].variables["CORS_ALLOWED_ORIGINS"] == "https://app.example.com"
    error_message = "a function with routes answers browsers with the CORS allow-list"
  }
  assert {
    condition     = length(aws_secretsmanager_secret.cursor) == 0
    error_message = "no users function, no cursor key"
  }
}
