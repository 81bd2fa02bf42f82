# Existing-Cognito mode: the pool, app client and hosted-UI domain are given
# by id and nothing Cognito is created.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  create_cognito       = false
  cognito_user_pool_id = "eu-west-1_EXISTING"
  cognito_client_id    = "existingclient"
  cognito_domain       = "login.example.com"
}

run "uses_the_given_pool_client_and_domain" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = length(aws_cognito_user_pool.this) == 0 && length(aws_cognito_user_pool_client.this) == 0 && length(aws_cognito_user_pool_domain.this) == 0 && length(aws_cognito_user_group.admin) == 0
    error_message = "no Cognito resource is created"
  }
  assert {
    condition = (
      local.environment["auth"]["USER_POOL_ID"] == "eu-west-1_EXISTING" &&
      local.environment["auth"]["COGNITO_CLIENT_ID"] == "existingclient" &&
      local.environment["auth"]["COGNITO_DOMAIN"] == "login.example.com" &&
      local.environment["authorizer"]["USER_POOL_ID"] == "eu-west-1_EXISTING" &&
      local.environment["authorizer"]["APP_CLIENT_IDS"] == "existingclient"
    )
    error_message = jsonencode([local.environment["auth"], local.environment["authorizer"]])
  }
  assert {
    condition     = output.user_pool_id == "eu-west-1_EXISTING" && output.user_pool_domain == "login.example.com"
    error_message = "outputs name the given pool"
  }
}

run "refuses_missing_ids" {
  command = plan

  variables {
    cognito_domain = null
  }

  expect_failures = [aws_api_gateway_rest_api.this]
}
