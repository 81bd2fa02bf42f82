# Inputs the module refuses before anything is created, each with the
# message a user needs.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "callback_must_end_in_callback" {
  command = plan
  variables {
    callback_urls = ["https://app.example.com/signin"]
  }
  expect_failures = [var.callback_urls]
}

run "domain_name_must_be_a_host_name" {
  command = plan
  variables {
    domain_name = "https://api.example.com"
  }
  expect_failures = [var.domain_name]
}

run "base_path_is_one_segment" {
  command = plan
  variables {
    base_path = "v1/api"
  }
  expect_failures = [var.base_path]
}

run "a_domain_needs_a_certificate_or_a_zone" {
  command = plan
  variables {
    certificate_arn = null
  }
  expect_failures = [aws_acm_certificate.api, check.deployed_code_is_the_build]
}

run "cookie_domain_must_cover_the_api_host" {
  command = plan
  variables {
    cookie_domain = "app.example.com"
  }
  expect_failures = [aws_api_gateway_rest_api.this]
}

run "a_parent_cookie_domain_is_fine" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]
  variables {
    cookie_domain = ".example.com"
  }
  assert {
    condition     = local.environment["auth"]["COOKIE_DOMAIN"] == ".example.com"
    error_message = "the cookie domain reaches the auth function"
  }
}

run "sites_under_a_country_second_level_domain" {
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]
  variables {
    app_url              = "https://app.shop.co.uk"
    cors_allowed_origins = ["https://app.shop.co.uk"]
    domain_name          = "api.shop.co.uk"
  }
  assert {
    condition     = local.app_site == "https://shop.co.uk" && local.api_site == "https://shop.co.uk"
    error_message = "${local.app_site} ${local.api_site}"
  }
}

run "another_company_under_the_same_country_domain_is_another_site" {
  command = plan
  variables {
    app_url              = "https://app.shop.co.uk"
    cors_allowed_origins = ["https://app.shop.co.uk"]
    domain_name          = "api.other.co.uk"
  }
  expect_failures = [aws_api_gateway_rest_api.this]
}

run "an_http_app_is_not_the_https_api_site" {
  command = plan
  variables {
    app_url              = "http://app.example.com"
    cors_allowed_origins = ["http://app.example.com"]
  }
  expect_failures = [aws_api_gateway_rest_api.this]
}

run "cognito_prefix_must_avoid_reserved_words" {
  command = plan
  variables {
    name = "aws-shop"
  }
  expect_failures = [aws_cognito_user_pool_domain.this]
}

run "cognito_prefix_format" {
  command = plan
  variables {
    cognito_domain_prefix = "-Shop"
  }
  expect_failures = [var.cognito_domain_prefix]
}

run "extra_statements_need_a_plain_sid" {
  command = plan
  variables {
    extra_policy_statements = { users = [{ sid = "read-bucket", actions = ["s3:GetObject"], resources = ["*"] }] }
  }
  expect_failures = [var.extra_policy_statements]
}

run "paths_deeper_than_the_module_builds_are_refused" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/deep-path"
  }
  expect_failures = [aws_api_gateway_rest_api.this]
}

run "an_unknown_logging_mode_is_refused" {
  command = plan
  variables {
    api_gateway_logging = "on"
  }
  expect_failures = [var.api_gateway_logging, check.deployed_code_is_the_build]
}

run "phone_verification_from_is_e164" {
  command = plan
  variables {
    phone_verification_from = "555-0100"
  }
  expect_failures = [var.phone_verification_from]
}
