# Contract B: the one credential the authorizer reads (its CREDENTIAL_SOURCE)
# is what API Gateway requires and caches on (the REST authorizer's
# identity_source). Both come from authorizer_credential_source.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "cookie_is_the_default_for_both" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  assert {
    condition     = aws_api_gateway_authorizer.this[0].identity_source == "method.request.header.Cookie"
    error_message = aws_api_gateway_authorizer.this[0].identity_source
  }
  assert {
    condition     = local.environment["authorizer"]["CREDENTIAL_SOURCE"] == "cookie" && local.environment["authorizer"]["AUTHORIZER_PAYLOAD"] == "request"
    error_message = jsonencode(local.environment["authorizer"])
  }
  assert {
    condition     = aws_api_gateway_authorizer.this[0].type == "REQUEST" && aws_api_gateway_authorizer.this[0].authorizer_result_ttl_in_seconds == 300
    error_message = "a REQUEST authorizer cached for 300 s"
  }
}

run "authorization_header_for_both" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  variables {
    authorizer_credential_source = "authorization"
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].identity_source == "method.request.header.Authorization"
    error_message = aws_api_gateway_authorizer.this[0].identity_source
  }
  assert {
    condition     = local.environment["authorizer"]["CREDENTIAL_SOURCE"] == "authorization"
    error_message = jsonencode(local.environment["authorizer"])
  }
}

run "bearer_tokens_work_on_the_execute_api_url" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

  variables {
    authorizer_credential_source = "authorization"
    domain_name                  = null
    certificate_arn              = null
  }

  assert {
    condition     = length(aws_api_gateway_domain_name.api) == 0 && local.api_site == "https://amazonaws.com"
    error_message = "no custom domain needed for bearer-token clients"
  }
}

run "cookies_need_the_api_on_the_app_site" {
  command = plan

  variables {
    domain_name     = null
    certificate_arn = null
  }

  expect_failures = [aws_api_gateway_rest_api.this]
}

run "cookies_refuse_an_api_on_another_site" {
  command = plan

  variables {
    domain_name = "api.example.net"
  }

  expect_failures = [aws_api_gateway_rest_api.this]
}

run "only_known_credential_sources" {
  command = plan

  variables {
    authorizer_credential_source = "header"
  }

  expect_failures = [var.authorizer_credential_source]
}
