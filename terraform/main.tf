################################################################################
# What to deploy: the build's manifest and the one DynamoDB schema
################################################################################

module "artifacts" {
  source = "./modules/artifacts"

  artifacts_dir   = var.artifacts_dir
  external_layers = var.external_layers
}

module "schema" {
  source = "./modules/schema"

  schema_json     = file("${path.module}/schema/dynamodb.json")
  required_tables = ["users", "phone_claims", "sms_history", "idempotency"]
}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  functions = module.artifacts.functions

  # The functions the API routes to; a manifest without one of them cannot deploy the API.
  routed_functions = ["sms", "auth", "users", "authorizer", "cors"]

  function_names = { for k in keys(local.functions) : k => "${var.name}-${k}" }

  # Built without the stage resource, so that function settings do not depend on the deployment.
  api_base_url     = coalesce(var.public_base_url, "https://${aws_api_gateway_rest_api.this.id}.execute-api.${local.region}.amazonaws.com/${var.stage_name}")
  auth_callback    = "${trimsuffix(local.api_base_url, "/")}/auth/callback"
  callback_urls    = length(var.callback_urls) > 0 ? var.callback_urls : [local.auth_callback]
  logout_urls      = length(var.logout_urls) > 0 ? var.logout_urls : [var.app_url]
  phone_index_name = one([for g in module.schema.tables.users.global_secondary_indexes : g.name if g.hash_key == "phone"])

  cors_environment = {
    CORS_ALLOWED_ORIGINS   = join(",", var.cors_allowed_origins)
    CORS_ALLOW_CREDENTIALS = tostring(var.cors_allow_credentials)
  }

  # What each function reads at init (README "Function environment").
  module_environment = {
    cors = local.cors_environment
    users = merge(local.cors_environment, {
      USERS_TABLE        = aws_dynamodb_table.this["users"].name
      PHONE_CLAIMS_TABLE = aws_dynamodb_table.this["phone_claims"].name
      CURSOR_SECRET      = random_bytes.cursor_secret.base64
      ADMIN_GROUP        = var.admin_group
    })
    # The webhook records messages; the worker (sms_worker.tf) answers them.
    sms = merge(local.cors_environment, {
      IDEMPOTENCY_TABLE  = aws_dynamodb_table.this["idempotency"].name
      SECRET_ID          = aws_secretsmanager_secret.this["sms"].arn
      PUBLIC_WEBHOOK_URL = "${trimsuffix(local.api_base_url, "/")}/sms/inbound"
      APOLOGY_TEXT       = var.sms_apology_text
    })
    sms-worker = local.sms_worker_environment
    auth = merge(local.cors_environment, {
      USERS_TABLE       = aws_dynamodb_table.this["users"].name
      SECRET_ID         = aws_secretsmanager_secret.this["auth"].arn
      USER_POOL_ID      = local.user_pool_id
      APP_CLIENT_IDS    = local.user_pool_client_id
      TOKEN_USE         = "id"
      COGNITO_CLIENT_ID = local.user_pool_client_id
      COGNITO_DOMAIN    = local.user_pool_domain
      REDIRECT_URI      = local.callback_urls[0]
      LOGOUT_URI        = local.logout_urls[0]
      APP_URL           = var.app_url
      OAUTH_SCOPES      = join(" ", var.oauth_scopes)
      # The refresh cookie lives as long as the refresh token it holds.
      REFRESH_COOKIE_MAX_AGE_SECONDS = tostring(var.refresh_token_validity_days * 86400)
    }, var.cookie_domain == null ? {} : { COOKIE_DOMAIN = var.cookie_domain })
    authorizer = {
      USER_POOL_ID   = local.user_pool_id
      APP_CLIENT_IDS = local.user_pool_client_id
      TOKEN_USE      = "access"
    }
  }

  environment = {
    for k in keys(local.functions) : k => merge(
      try(local.module_environment[k], {}),
      try(var.extra_environment[k], {}),
    )
  }
}

# Signs the users function's pagination cursors (integrity only: a cursor
# holds no secret). Replace it to invalidate every cursor handed out.
resource "random_bytes" "cursor_secret" {
  length = 32
}

################################################################################
# Layers
################################################################################

resource "aws_lambda_layer_version" "this" {
  for_each = module.artifacts.layers

  layer_name               = "${var.name}-${each.key}"
  description              = "${each.key} (${each.value.kind}) from ${basename(each.value.filename)}"
  filename                 = each.value.filename
  source_code_hash         = each.value.source_code_hash
  compatible_architectures = each.value.compatible_architectures
  compatible_runtimes      = each.value.compatible_runtimes
  skip_destroy             = var.layer_skip_destroy
}

################################################################################
# Functions
################################################################################

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:a customer-managed key is optional (var.kms_key_arn); CloudWatch Logs encrypts with its own key otherwise
  #checkov:skip=CKV_AWS_338:retention is a deployment choice (var.log_retention_in_days), not fixed at one year
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations
  #checkov:skip=CKV_AWS_117:the functions call only public AWS and SaaS endpoints; a VPC would add NAT cost and cold-start time for no isolation gain
  #checkov:skip=CKV_AWS_272:artifacts are pinned by source_code_hash from the reproducible build's manifest; code signing needs a signer profile per account
  #checkov:skip=CKV_AWS_50:X-Ray is optional (var.tracing_enabled)
  #checkov:skip=CKV_AWS_115:reserved concurrency is optional per function (var.reserved_concurrent_executions)
  #checkov:skip=CKV_AWS_173:Lambda encrypts environment variables at rest with its own key; they hold names, ARNs and the cursor-signing key, never credentials; a customer-managed key is optional (var.kms_key_arn)
  for_each = local.functions

  function_name    = local.function_names[each.key]
  description      = "${each.key} from ${basename(each.value.filename)}"
  role             = aws_iam_role.function[each.key].arn
  architectures    = each.value.architectures
  runtime          = each.value.runtime
  handler          = each.value.handler
  filename         = each.value.filename
  source_code_hash = each.value.source_code_hash
  memory_size      = lookup(var.memory_size, each.key, each.value.memory_size)
  timeout          = lookup(var.timeout, each.key, each.value.timeout)
  layers           = concat([for l in each.value.layers : aws_lambda_layer_version.this[l].arn], each.value.external_layer_arns)
  publish          = true
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = lookup(var.reserved_concurrent_executions, each.key, -1)

  dynamic "environment" {
    for_each = length(local.environment[each.key]) > 0 ? [local.environment[each.key]] : []

    content {
      variables = environment.value
    }
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  # The functions and the telemetry extension already write JSON lines (EMF among them) to stdout.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function]
}

# API Gateway invokes this alias, so a rollback is one alias update (var.function_versions).
resource "aws_lambda_alias" "this" {
  for_each = aws_lambda_function.this

  name             = var.function_alias
  description      = "Version API Gateway invokes"
  function_name    = each.value.function_name
  function_version = lookup(var.function_versions, each.key, each.value.version)
}
