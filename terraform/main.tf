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
  region     = data.aws_service.execute_api.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  functions = module.artifacts.functions
  api       = module.artifacts.api

  function_names = { for k in keys(local.functions) : k => "${var.name}-${k}" }

  # Functions a browser calls: every function with routes, and the one
  # answering preflights. They all send the same CORS headers.
  http_functions = toset(concat(
    [for k, f in local.functions : k if length(f.routes) > 0],
    local.api.preflight == null ? [] : [local.api.preflight],
  ))

  phone_index_name = one([for g in module.schema.tables.users.global_secondary_indexes : g.name if g.hash_key == "phone"])

  cors_environment = {
    CORS_ALLOWED_ORIGINS   = join(",", var.cors_allowed_origins)
    CORS_ALLOW_CREDENTIALS = tostring(var.cors_allow_credentials)
  }

  # What each function reads at init (README "Function environment"). Maps,
  # not objects, so that lookup() can pick one without try(), which would
  # turn the whole environment unknown until apply.
  module_environment = {
    users = merge(
      tomap({
        USERS_TABLE        = aws_dynamodb_table.this["users"].name
        PHONE_CLAIMS_TABLE = aws_dynamodb_table.this["phone_claims"].name
        CURSOR_SECRET      = one(aws_secretsmanager_secret_version.cursor[*].secret_string)
        ADMIN_GROUP        = var.admin_group
      }),
      # Phone proofs: codes are texted from this number with the sms
      # secret's Twilio credentials (the users role's TwilioSecret statement).
      var.phone_verification_from == null ? {} : {
        TWILIO_SECRET_ID = aws_secretsmanager_secret.this["sms"].arn
        SMS_FROM         = var.phone_verification_from
      },
    )
    # The webhook records messages; the worker (sms_worker.tf) answers them.
    sms = tomap({
      IDEMPOTENCY_TABLE  = aws_dynamodb_table.this["idempotency"].name
      SECRET_ID          = aws_secretsmanager_secret.this["sms"].arn
      PUBLIC_WEBHOOK_URL = "${local.api_base_url}/sms/inbound"
      APOLOGY_TEXT       = var.sms_apology_text
    })
    sms-worker = local.sms_worker_environment
    auth = merge({
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
    (var.authorizer_function) = tomap({
      USER_POOL_ID   = local.user_pool_id
      APP_CLIENT_IDS = local.user_pool_client_id
      TOKEN_USE      = "access"
      # The one credential it reads; API Gateway requires and caches on the
      # same one (aws_api_gateway_authorizer.identity_source).
      CREDENTIAL_SOURCE  = var.authorizer_credential_source
      AUTHORIZER_PAYLOAD = "request"
    })
  }

  environment = {
    for k in keys(local.functions) : k => merge(
      contains(local.http_functions, k) ? local.cors_environment : {},
      lookup(local.module_environment, k, {}),
      lookup(var.extra_environment, k, {}),
    )
  }
  # Decided without the values: CURSOR_SECRET is sensitive, and a dynamic
  # block cannot iterate over anything derived from a sensitive value.
  has_environment = {
    for k in keys(local.functions) : k => contains(local.http_functions, k) || contains(keys(local.module_environment), k) || length(lookup(var.extra_environment, k, {})) > 0
  }
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
  #checkov:skip=CKV_AWS_338:retention is a deployment choice (var.log_retention_in_days, default 30 days), not fixed at one year
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:a dead-letter queue only applies to asynchronous invocations; API Gateway invokes the functions synchronously, and an event source mapping has its own on-failure destination
  #checkov:skip=CKV_AWS_117:the functions call only public AWS and SaaS endpoints; a VPC would add NAT cost and cold-start time for no isolation gain
  #checkov:skip=CKV_AWS_272:artifacts are pinned by source_code_hash from the reproducible build's manifest, and code changed outside Terraform is reported (check deployed_code_is_the_build); code signing needs a signer profile per account
  #checkov:skip=CKV_AWS_50:X-Ray is optional (var.tracing_enabled)
  #checkov:skip=CKV_AWS_115:reserved concurrency is optional per function (var.reserved_concurrent_executions)
  #checkov:skip=CKV_AWS_173:Lambda encrypts environment variables at rest with its AWS-managed key unless var.kms_key_arn is set; they hold names, ARNs, URLs and one secret, the users function's pagination-cursor signing key (only the integrity of cursors depends on it; README "Secrets")
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
    for_each = local.has_environment[each.key] ? [1] : []

    content {
      variables = local.environment[each.key]
    }
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  logging_config {
    log_format            = var.log_format
    log_group             = aws_cloudwatch_log_group.function[each.key].name
    application_log_level = var.log_format == "JSON" ? lookup(var.application_log_levels, each.key, var.application_log_level) : null
    system_log_level      = var.log_format == "JSON" ? var.system_log_level : null
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function]
}

# Provider 5.x records only the source_code_hash it was given, so code
# uploaded outside Terraform would go unnoticed; the function's code_sha256
# is read back from Lambda on every refresh. A plan that uploads new code
# leaves last_modified unknown: the check then waits for the apply instead
# of comparing the old code with the new build.
check "deployed_code_is_the_build" {
  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : f.code_sha256 == local.functions[k].source_code_hash || f.last_modified == null])
    error_message = "Code changed outside Terraform in: ${join(", ", [for k, f in aws_lambda_function.this : k if f.code_sha256 != local.functions[k].source_code_hash])}. Apply with -replace on those aws_lambda_function.this instances to upload the build again."
  }
}

# API Gateway invokes this alias, so a rollback is one alias update (var.function_versions).
resource "aws_lambda_alias" "this" {
  for_each = aws_lambda_function.this

  name             = var.function_alias
  description      = "Version API Gateway invokes"
  function_name    = each.value.function_name
  function_version = lookup(var.function_versions, each.key, each.value.version)
}
