locals {
  user_pool_id        = var.create_cognito ? aws_cognito_user_pool.this[0].id : var.cognito_user_pool_id
  user_pool_client_id = var.create_cognito ? aws_cognito_user_pool_client.this[0].id : var.cognito_client_id
  user_pool_domain    = var.create_cognito ? "${aws_cognito_user_pool_domain.this[0].domain}.auth.${local.region}.amazoncognito.com" : var.cognito_domain
  # Hosted-UI prefixes are unique per region across every AWS account.
  cognito_domain_prefix = coalesce(var.cognito_domain_prefix, "${var.name}-${local.account_id}")
  user_pool_arn         = var.create_cognito ? aws_cognito_user_pool.this[0].arn : "arn:${local.partition}:cognito-idp:${local.region}:${local.account_id}:userpool/${coalesce(var.cognito_user_pool_id, "unset")}"
}

resource "aws_cognito_user_pool" "this" {
  count = var.create_cognito ? 1 : 0

  name                     = var.name
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = var.cognito_deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  tags = var.tags
}

# The users function grants admin routes to members of this group (cognito:groups).
resource "aws_cognito_user_group" "admin" {
  count = var.create_cognito ? 1 : 0

  name         = var.admin_group
  user_pool_id = aws_cognito_user_pool.this[0].id
  description  = "May list, read, update and delete every user profile"
}

resource "aws_cognito_user_pool_client" "this" {
  count = var.create_cognito ? 1 : 0

  name         = "${var.name}-web"
  user_pool_id = aws_cognito_user_pool.this[0].id

  # Authorization code grant; the auth function adds PKCE (S256) itself.
  generate_secret                      = var.cognito_generate_client_secret
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_scopes                 = var.oauth_scopes
  callback_urls                        = local.callback_urls
  logout_urls                          = local.logout_urls
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true

  refresh_token_validity = var.refresh_token_validity_days
  access_token_validity  = var.access_token_validity_minutes
  id_token_validity      = var.access_token_validity_minutes

  token_validity_units {
    refresh_token = "days"
    access_token  = "minutes"
    id_token      = "minutes"
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  count = var.create_cognito ? 1 : 0

  domain       = local.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.this[0].id

  lifecycle {
    precondition {
      # Cognito reserves these words in prefixes.
      condition     = length(regexall("aws|amazon|cognito", local.cognito_domain_prefix)) == 0 && length(local.cognito_domain_prefix) <= 63
      error_message = "The hosted-UI prefix \"${local.cognito_domain_prefix}\" contains aws, amazon or cognito, or is longer than 63 characters, which Cognito refuses: set cognito_domain_prefix."
    }
  }
}
