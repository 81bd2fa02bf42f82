# Stand-ins for what AWS would answer, shared by every test of the root
# module (mock_provider "aws" { source = "./tests/mocks" }): account
# 123456789012 in eu-west-1, partition aws, the commercial service
# principals. Computed attributes not listed here get generated values on
# apply and stay unknown on plan.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/test"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_data "aws_service" {
  defaults = {
    region    = "eu-west-1"
    dns_name  = "execute-api.eu-west-1.amazonaws.com"
    partition = "aws"
  }
}

mock_resource "aws_api_gateway_rest_api" {
  defaults = {
    id               = "abc123"
    arn              = "arn:aws:apigateway:eu-west-1::/restapis/abc123"
    execution_arn    = "arn:aws:execute-api:eu-west-1:123456789012:abc123"
    root_resource_id = "root"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
  }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/mock"
    stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mock/stream/2026-01-01T00:00:00.000"
  }
}

mock_resource "aws_cognito_user_pool" {
  defaults = {
    id  = "eu-west-1_abc"
    arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc"
  }
}

mock_resource "aws_cognito_user_pool_client" {
  defaults = {
    id = "clientid123"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mock"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mock-AbCdEf"
  }
}

mock_resource "aws_lambda_layer_version" {
  defaults = {
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:mock:1"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn     = "arn:aws:lambda:eu-west-1:123456789012:function:mock"
    version = "1"
  }
}

mock_resource "aws_lambda_alias" {
  defaults = {
    arn        = "arn:aws:lambda:eu-west-1:123456789012:function:mock:live"
    invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mock:live/invocations"
  }
}

mock_resource "aws_acm_certificate" {
  defaults = {
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/mock"
  }
}

mock_resource "aws_api_gateway_domain_name" {
  defaults = {
    regional_domain_name = "d-mock.execute-api.eu-west-1.amazonaws.com"
    regional_zone_id     = "ZMOCKZONE"
  }
}

override_data {
  target = data.aws_service_principal.lambda
  values = { name = "lambda.amazonaws.com" }
}

override_data {
  target = data.aws_service_principal.apigateway
  values = { name = "apigateway.amazonaws.com" }
}
