# The whole root module against mocked providers. Unlike the provider-free
# modules' tests this needs the AWS and random providers installed
# (`terraform init` with network), so CI (offline) does not run it; run it
# with `terraform init -backend=false && terraform test` in terraform/.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { region = "eu-west-1", name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:x" }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = { id = "abc123", execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:abc123", root_resource_id = "root" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/x" }
  }
  mock_resource "aws_cognito_user_pool" {
    defaults = { id = "eu-west-1_abc", arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc" }
  }
  mock_resource "aws_cognito_user_pool_domain" {
    defaults = { domain = "lambda-forge" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/x" }
  }
  mock_resource "aws_lambda_layer_version" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:layer:x:1" }
  }
  mock_resource "aws_lambda_alias" {
    defaults = { invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:x:live/invocations" }
  }
}

mock_provider "random" {
  mock_resource "random_bytes" {
    defaults = { base64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
  }
}

variables {
  artifacts_dir        = "tests/fixtures/artifacts"
  app_url              = "https://app.example.com"
  cors_allowed_origins = ["https://app.example.com"]
}

run "plans_one_function_per_manifest_entry" {
  command = plan

  assert {
    condition     = length(aws_lambda_function.this) == 5 && length(aws_lambda_layer_version.this) == 1
    error_message = "expected 5 functions and 1 layer"
  }
  assert {
    condition     = aws_lambda_function.this["sms"].memory_size == 256 && aws_lambda_function.this["sms"].timeout == 12
    error_message = "memory/timeout must come from the manifest"
  }
}

run "wires_routes_permissions_and_environment" {
  command = apply

  assert {
    condition     = aws_lambda_permission.route["GET users/{id}"].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users/*"
    error_message = aws_lambda_permission.route["GET users/{id}"].source_arn
  }
  assert {
    condition     = length(aws_lambda_permission.route) == 23 && aws_api_gateway_authorizer.this.identity_source == "method.request.header.Cookie"
    error_message = "13 function routes + 10 preflights, authorizer keyed on the Cookie header"
  }
  assert {
    condition     = output.twilio_webhook_url == "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/sms/inbound"
    error_message = output.twilio_webhook_url
  }
  assert {
    condition     = aws_lambda_function.this["sms"].environment[0].variables["PUBLIC_WEBHOOK_URL"] == output.twilio_webhook_url
    error_message = "sms must verify signatures against the webhook URL Twilio is given"
  }
  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["APP_CLIENT_IDS"] == aws_cognito_user_pool_client.this[0].id
    error_message = "the authorizer must accept tokens of the app client"
  }
  assert {
    condition     = aws_lambda_function.this["auth"].environment[0].variables["REFRESH_COOKIE_MAX_AGE_SECONDS"] == tostring(var.refresh_token_validity_days * 86400)
    error_message = "the refresh cookie must live as long as the refresh token"
  }
}

run "callback_must_end_in_callback" {
  command = plan

  variables {
    callback_urls = ["https://app.example.com/signin"]
  }

  expect_failures = [var.callback_urls]
}

run "existing_cognito_requires_its_ids" {
  command = plan

  variables {
    create_cognito = false
  }

  expect_failures = [aws_api_gateway_rest_api.this]
}
