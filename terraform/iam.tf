locals {
  table_arns = { for k, t in aws_dynamodb_table.this : k => t.arn }

  # Least privilege per function, beyond writing its own logs. Functions the
  # module does not know (a new crate) get logs only until they are listed here.
  function_statements = {
    # The webhook only records inbound messages (conditional put).
    sms = [
      {
        sid       = "RecordInbound"
        actions   = ["dynamodb:PutItem"]
        resources = [local.table_arns["idempotency"]]
        condition = []
      },
      {
        sid       = "Secret"
        actions   = ["secretsmanager:GetSecretValue"]
        resources = [aws_secretsmanager_secret.this["sms"].arn]
        condition = []
      },
    ]
    # The worker reads the inbound table's stream (Lambda's event source
    # mapping uses the function's role), moves each message through its
    # states, answers from the history, and hands failed batches to its
    # on-failure queue (sms_worker.tf).
    sms-worker = [
      {
        sid       = "InboundStream"
        actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
        resources = ["${local.table_arns["idempotency"]}/stream/*"]
        condition = []
      },
      {
        sid       = "InboundStates"
        actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
        resources = [local.table_arns["idempotency"]]
        condition = []
      },
      {
        sid       = "History"
        actions   = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
        resources = [local.table_arns["sms_history"]]
        condition = []
      },
      {
        sid       = "UserByPhone"
        actions   = ["dynamodb:Query"]
        resources = ["${local.table_arns["users"]}/index/${local.phone_index_name}"]
        condition = []
      },
      {
        # STOP/START from Twilio are mirrored into sms_opt_in and nothing else
        # (the update is conditional on the item still holding that phone).
        sid       = "MirrorOptIn"
        actions   = ["dynamodb:UpdateItem"]
        resources = [local.table_arns["users"]]
        condition = [{ test = "ForAllValues:StringEquals", variable = "dynamodb:Attributes", values = ["user_id", "phone", "sms_opt_in", "updated_at", "version"] }]
      },
      {
        sid       = "Secret"
        actions   = ["secretsmanager:GetSecretValue"]
        resources = [aws_secretsmanager_secret.this["sms"].arn]
        condition = []
      },
      {
        sid       = "OnFailureQueue"
        actions   = ["sqs:SendMessage"]
        resources = compact([local.sms_worker_dlq_arn])
        condition = []
      },
    ]
    auth = [
      {
        # Creates or refreshes the signed-in user's own profile; no reads of others, no deletes.
        sid       = "OwnProfile"
        actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources = [local.table_arns["users"]]
        condition = []
      },
      {
        sid       = "Secret"
        actions   = ["secretsmanager:GetSecretValue"]
        resources = [aws_secretsmanager_secret.this["auth"].arn]
        condition = []
      },
      {
        sid       = "Cognito"
        actions   = ["cognito-idp:InitiateAuth", "cognito-idp:RevokeToken", "cognito-idp:GlobalSignOut"]
        resources = [local.user_pool_arn]
        condition = []
      },
    ]
    users = [
      {
        # Profiles and phone claims are written together in transactions.
        sid = "ProfilesAndPhoneClaims"
        actions = [
          "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
          "dynamodb:ConditionCheckItem", "dynamodb:Query", "dynamodb:Scan",
        ]
        resources = [local.table_arns["users"], local.table_arns["phone_claims"]]
        condition = []
      },
    ]
  }

  kms_statements = var.kms_key_arn == null ? [] : [{
    sid       = "Kms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition = []
  }]
}

resource "aws_iam_role" "function" {
  for_each = local.function_names

  name                 = each.value
  description          = "Execution role of the ${each.key} function"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.function_names

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = concat(lookup(local.function_statements, each.key, []), local.kms_statements)

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.condition

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  dynamic "statement" {
    # X-Ray has no resource-level permissions: "*" is the only resource it accepts.
    for_each = var.tracing_enabled ? [1] : []

    content {
      sid       = "XRay"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.function_names

  name   = "${each.value}-least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

# Account-wide: lets API Gateway write execution and access logs.
resource "aws_iam_role" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${var.name}-apigateway-logs"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_logs[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_logs[0].arn

  depends_on = [aws_iam_role_policy_attachment.api_gateway_logs]
}
