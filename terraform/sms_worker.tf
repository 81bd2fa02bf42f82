################################################################################
# The sms worker: answers the messages the sms webhook records
#
# The webhook writes each inbound message once to the idempotency table
# (its inbound-message table); the table's DynamoDB stream feeds the
# sms-worker function through an event source mapping: new messages only
# (INSERT filter), retried with bisection and partial batch responses,
# records older than a maximum age or out of retries sent to an SQS
# on-failure queue with its own alarm. A static apology on a separate
# endpoint is the Twilio number's Fallback URL, for the moments the
# webhook itself cannot answer.
################################################################################

variable "sms_worker_batch_size" {
  description = "Stream records per sms-worker invocation. Messages of one sender are answered in order, senders in parallel (WORKER_CONCURRENCY)."
  type        = number
  default     = 10

  validation {
    condition     = var.sms_worker_batch_size >= 1 && var.sms_worker_batch_size <= 100
    error_message = "sms_worker_batch_size must be between 1 and 100."
  }
}

variable "sms_worker_maximum_retry_attempts" {
  description = "Retries of a failed stream record. The worker's last attempt (MAX_ATTEMPTS = this + 1) sends the apology instead of trying again, and the record then goes to the on-failure queue."
  type        = number
  default     = 3

  validation {
    condition     = var.sms_worker_maximum_retry_attempts >= 0 && var.sms_worker_maximum_retry_attempts <= 10
    error_message = "sms_worker_maximum_retry_attempts must be between 0 and 10: every retry holds back the messages behind it on the shard."
  }
}

variable "sms_worker_maximum_record_age_in_seconds" {
  description = "Stream records older than this go to the on-failure queue unprocessed (an answer that late is no longer useful)."
  type        = number
  default     = 3600

  validation {
    condition     = var.sms_worker_maximum_record_age_in_seconds >= 60 && var.sms_worker_maximum_record_age_in_seconds <= 86400
    error_message = "sms_worker_maximum_record_age_in_seconds must be between 60 and 86400 (the stream keeps records 24 hours)."
  }
}

variable "sms_apology_text" {
  description = "The apology texters get when their message cannot be answered: from the webhook (message not recorded), the worker (assistant failed, attempts exhausted) and the static Fallback URL. At most 1600 characters."
  type        = string
  default     = "Sorry, I can't answer right now. Please try again in a few minutes."

  validation {
    condition     = length(var.sms_apology_text) > 0 && length(var.sms_apology_text) <= 1600
    error_message = "sms_apology_text must be 1 to 1600 characters (one SMS body)."
  }
}

variable "sms_alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when a message lands in the sms worker's on-failure queue or the stream falls behind."
  type        = list(string)
  default     = []
}

variable "sms_worker_iterator_age_alarm_seconds" {
  description = "Alarm when the oldest unanswered stream record is older than this many seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.sms_worker_iterator_age_alarm_seconds >= 60
    error_message = "sms_worker_iterator_age_alarm_seconds must be at least 60."
  }
}

locals {
  # An artifact set from before the worker existed has an sms function that
  # answers by itself: nothing here is created for it.
  sms_worker = contains(keys(local.functions), "sms-worker")

  sms_inbound_table = aws_dynamodb_table.this["idempotency"]

  # The worker's environment (README "Function environment"); the webhook's
  # is in main.tf.
  sms_worker_environment = tomap({
    USERS_TABLE       = aws_dynamodb_table.this["users"].name
    USERS_PHONE_INDEX = local.phone_index_name
    SMS_HISTORY_TABLE = aws_dynamodb_table.this["sms_history"].name
    IDEMPOTENCY_TABLE = local.sms_inbound_table.name
    SECRET_ID         = aws_secretsmanager_secret.this["sms"].arn
    APOLOGY_TEXT      = var.sms_apology_text
    # The attempt Lambda's last retry brings sends the apology.
    MAX_ATTEMPTS = tostring(var.sms_worker_maximum_retry_attempts + 1)
  })

  # What the webhook answers on the fallback endpoint: the apology as TwiML,
  # escaped for XML and kept literal in the mapping template (#[[ ]]#).
  sms_fallback_twiml = join("", [
    "#[[<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>",
    replace(replace(replace(var.sms_apology_text, "&", "&amp;"), "<", "&lt;"), ">", "&gt;"),
    "</Message></Response>]]#",
  ])
}

################################################################################
# On-failure queue and alarms
################################################################################

resource "aws_sqs_queue" "sms_worker_failures" {
  count = local.sms_worker ? 1 : 0

  # Lambda writes the failed batch's stream coordinates here (shard and
  # sequence numbers, not the message); the record's `poisoned` and
  # `last_error` attributes in the table say what happened.
  name                      = "${var.name}-sms-worker-failures"
  message_retention_seconds = 1209600 # 14 days, SQS's maximum
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_cloudwatch_metric_alarm" "sms_worker_failures" {
  count = local.sms_worker ? 1 : 0

  alarm_name          = "${var.name}-sms-worker-failures"
  alarm_description   = "A message of the sms worker ran out of attempts or age and is in ${aws_sqs_queue.sms_worker_failures[0].name}: the texter got the apology or nothing; see the record's poisoned/last_error."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.sms_worker_failures[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.sms_alarm_actions
  ok_actions          = var.sms_alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "sms_worker_iterator_age" {
  count = local.sms_worker ? 1 : 0

  alarm_name          = "${var.name}-sms-worker-behind"
  alarm_description   = "The sms worker's stream is more than ${var.sms_worker_iterator_age_alarm_seconds} s behind: texters are waiting for answers."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = local.function_names["sms-worker"], Resource = "${local.function_names["sms-worker"]}:${var.function_alias}" }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.sms_worker_iterator_age_alarm_seconds * 1000
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.sms_alarm_actions
  ok_actions          = var.sms_alarm_actions
  tags                = var.tags
}

# Lambda hands a failed batch to the on-failure queue with the function's
# role. Infrastructure, not a call of the code: it stays out of
# iam/policies.json, which crates/iam-audit compares with the code.
resource "aws_iam_role_policy" "sms_worker_failures" {
  count = local.sms_worker ? 1 : 0

  name = "${local.function_names["sms-worker"]}-on-failure"
  role = aws_iam_role.function["sms-worker"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "OnFailureQueue"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.sms_worker_failures[0].arn]
    }]
  })
}

################################################################################
# The stream -> worker mapping
################################################################################

resource "aws_lambda_event_source_mapping" "sms_worker" {
  count = local.sms_worker ? 1 : 0

  event_source_arn  = local.sms_inbound_table.stream_arn
  function_name     = aws_lambda_alias.this["sms-worker"].arn
  starting_position = "TRIM_HORIZON"

  batch_size                         = var.sms_worker_batch_size
  maximum_batching_window_in_seconds = 0
  # One batch per shard at a time keeps a sender's messages in order.
  parallelization_factor         = 1
  maximum_retry_attempts         = var.sms_worker_maximum_retry_attempts
  maximum_record_age_in_seconds  = var.sms_worker_maximum_record_age_in_seconds
  bisect_batch_on_function_error = true
  function_response_types        = ["ReportBatchItemFailures"]

  # New messages only: the worker's own state changes (MODIFY) and TTL
  # expiries (REMOVE) are not work.
  filter_criteria {
    filter {
      pattern = jsonencode({ eventName = ["INSERT"] })
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.sms_worker_failures[0].arn
    }
  }

  # The worker's role must be able to read the stream and write the queue
  # before Lambda validates the mapping.
  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.sms_worker_failures]
}

################################################################################
# Static apology: the Twilio number's Fallback URL
#
# Twilio calls it when the webhook answers 4xx/5xx or not at all (error
# 11200). A separate REST API with a mock integration: no Lambda, no table,
# no secret, nothing of the main API's deployment can take it down.
################################################################################

resource "aws_api_gateway_rest_api" "sms_fallback" {
  #checkov:skip=CKV_AWS_237:a replacement means a new URL to set in Twilio, so create-before-destroy cannot make it seamless
  name        = "${var.name}-sms-fallback"
  description = "Static apology TwiML: the Twilio number's Fallback URL"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags
}

resource "aws_api_gateway_method" "sms_fallback" {
  #checkov:skip=CKV_AWS_59:Twilio calls the Fallback URL without credentials; it answers the same fixed text to anyone and touches no data
  #checkov:skip=CKV2_AWS_53:a mock integration that ignores its input
  for_each = toset(["GET", "POST"])

  rest_api_id   = aws_api_gateway_rest_api.sms_fallback.id
  resource_id   = aws_api_gateway_rest_api.sms_fallback.root_resource_id
  http_method   = each.key
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "sms_fallback" {
  for_each = aws_api_gateway_method.sms_fallback

  rest_api_id = aws_api_gateway_rest_api.sms_fallback.id
  resource_id = aws_api_gateway_rest_api.sms_fallback.root_resource_id
  http_method = each.value.http_method
  type        = "MOCK"
  # Twilio posts a form; a GET has no body (the JSON template is the default).
  passthrough_behavior = "WHEN_NO_TEMPLATES"
  request_templates = {
    "application/json"                  = "{\"statusCode\": 200}"
    "application/x-www-form-urlencoded" = "{\"statusCode\": 200}"
  }
}

resource "aws_api_gateway_method_response" "sms_fallback" {
  for_each = aws_api_gateway_method.sms_fallback

  rest_api_id         = aws_api_gateway_rest_api.sms_fallback.id
  resource_id         = aws_api_gateway_rest_api.sms_fallback.root_resource_id
  http_method         = each.value.http_method
  status_code         = "200"
  response_parameters = { "method.response.header.Content-Type" = true }
}

resource "aws_api_gateway_integration_response" "sms_fallback" {
  for_each = aws_api_gateway_method.sms_fallback

  rest_api_id         = aws_api_gateway_rest_api.sms_fallback.id
  resource_id         = aws_api_gateway_rest_api.sms_fallback.root_resource_id
  http_method         = each.value.http_method
  status_code         = aws_api_gateway_method_response.sms_fallback[each.key].status_code
  response_parameters = { "method.response.header.Content-Type" = "'text/xml'" }
  # Chosen by the request's Accept header; Twilio sends */*, which gets the first.
  response_templates = {
    "application/json" = local.sms_fallback_twiml
    "text/xml"         = local.sms_fallback_twiml
  }

  depends_on = [aws_api_gateway_integration.sms_fallback]
}

resource "aws_api_gateway_deployment" "sms_fallback" {
  rest_api_id = aws_api_gateway_rest_api.sms_fallback.id

  triggers = {
    redeploy = sha1(jsonencode([local.sms_fallback_twiml, [for m in aws_api_gateway_method.sms_fallback : m.id]]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_integration_response.sms_fallback]
}

resource "aws_api_gateway_stage" "sms_fallback" {
  #checkov:skip=CKV_AWS_76:a fixed answer with no input: nothing to learn from access logs
  #checkov:skip=CKV_AWS_73:a mock integration has nothing to trace
  #checkov:skip=CKV_AWS_120:a cache would hold the same fixed text; throttling bounds the cost
  #checkov:skip=CKV2_AWS_51:Twilio cannot present a client certificate
  #checkov:skip=CKV2_AWS_29:no data behind it; a WAF ACL would cost more than the endpoint
  #checkov:skip=CKV2_AWS_77:no data behind it; a WAF ACL would cost more than the endpoint
  #checkov:skip=CKV2_AWS_4:no execution logs for a mock integration
  rest_api_id   = aws_api_gateway_rest_api.sms_fallback.id
  deployment_id = aws_api_gateway_deployment.sms_fallback.id
  stage_name    = "fallback"
  tags          = var.tags
}

resource "aws_api_gateway_method_settings" "sms_fallback" {
  #checkov:skip=CKV_AWS_225:no cache, see the stage
  #checkov:skip=CKV_AWS_308:no cache, so nothing to encrypt
  rest_api_id = aws_api_gateway_rest_api.sms_fallback.id
  stage_name  = aws_api_gateway_stage.sms_fallback.stage_name
  method_path = "*/*"

  settings {
    # Twilio calls it once per failed message; the limits only bound abuse.
    throttling_burst_limit = 50
    throttling_rate_limit  = 20
  }
}

output "twilio_fallback_url" {
  description = "URL to set as the Twilio number's Fallback URL for incoming messages (HTTP POST): a static apology Twilio sends when the webhook answers 4xx/5xx or times out."
  value       = "${aws_api_gateway_stage.sms_fallback.invoke_url}/"
}

output "sms_worker_failure_queue_url" {
  description = "SQS queue holding the sms worker's failed stream batches (null without an sms-worker function)."
  value       = one(aws_sqs_queue.sms_worker_failures[*].url)
}
