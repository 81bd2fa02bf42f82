locals {
  # Least privilege per function, derived from its code: iam/policies.json,
  # which crates/iam-audit compares with the AWS SDK calls of each crate.
  # A function it does not list (a new crate) may only write its logs.
  iam_policies = jsondecode(file("${path.module}/iam/policies.json")).functions

  # What the symbolic resources of iam/policies.json stand for.
  policy_resources = merge(
    { for k, t in aws_dynamodb_table.this : "table:${k}" => t.arn },
    { for k, t in aws_dynamodb_table.this : "index:${k}/*" => "${t.arn}/index/*" },
    merge([
      for k, t in module.schema.tables : {
        for g in t.global_secondary_indexes : "index:${k}/${g.name}" => "${aws_dynamodb_table.this[k].arn}/index/${g.name}"
      }
    ]...),
    { for k, t in module.schema.tables : "stream:${k}" => aws_dynamodb_table.this[k].stream_arn if try(t.stream_view_type, null) != null },
    { for k, s in aws_secretsmanager_secret.this : "secret:${k}" => s.arn },
    { user_pool = local.user_pool_arn },
  )

  # A function listed there but absent from the manifest (a partial build)
  # is simply not deployed; crates/iam-audit catches misspelt names.
  policy_errors = concat(
    flatten([
      for f, statements in local.iam_policies : [
        for s in statements : [
          for r in s.resources : "iam/policies.json: ${f}/${s.sid}: unknown resource \"${r}\" (known: ${join(", ", sort(keys(local.policy_resources)))})"
          if !contains(keys(local.policy_resources), r)
        ]
      ]
    ]),
  )

  # IAM's JSON for a list of {test, variable, values}.
  iam_condition = {
    for f, statements in local.iam_policies : f => [
      for s in statements : {
        for test in distinct([for c in try(s.conditions, []) : c.test]) :
        test => { for c in s.conditions : c.variable => c.values if c.test == test }
      }
    ]
  }

  function_statements = {
    for f in keys(local.function_names) : f => concat(
      [{
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.function[f].arn}:*"]
      }],
      [
        for i, s in lookup(local.iam_policies, f, []) : merge(
          {
            Sid      = s.sid
            Effect   = "Allow"
            Action   = s.actions
            Resource = [for r in s.resources : lookup(local.policy_resources, r, r)]
          },
          length(try(s.conditions, [])) == 0 ? {} : { Condition = local.iam_condition[f][i] },
        )
      ],
      var.kms_key_arn == null ? [] : [{
        Sid      = "Kms"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      }],
      # X-Ray has no resource-level permissions: "*" is the only resource it accepts.
      var.tracing_enabled ? [{
        Sid      = "XRay"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      }] : [],
      [
        for i, s in lookup(var.extra_policy_statements, f, []) : merge(
          {
            Sid      = coalesce(s.sid, "Extra${i}")
            Effect   = s.effect
            Action   = s.actions
            Resource = s.resources
          },
          length(s.conditions) == 0 ? {} : {
            Condition = {
              for test in distinct([for c in s.conditions : c.test]) :
              test => { for c in s.conditions : c.variable => c.values if c.test == test }
            }
          },
        )
      ],
    )
  }
}

resource "aws_iam_role" "function" {
  for_each = local.function_names

  name        = each.value
  description = "Execution role of the ${each.key} function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaAssume"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = data.aws_service_principal.lambda.name }
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy" "function" {
  for_each = local.function_names

  name   = "${each.value}-least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.function_statements[each.key] })

  lifecycle {
    precondition {
      condition     = length(local.policy_errors) == 0
      error_message = join("\n", local.policy_errors)
    }
  }
}
