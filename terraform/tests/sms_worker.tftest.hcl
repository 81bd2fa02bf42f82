# The sms worker's wiring (sms_worker.tf) against mocked providers: the
# stream, the event source mapping, the on-failure queue and its alarm,
# the worker's environment and role, the static Fallback URL. Like
# root.tftest.hcl it needs the providers installed (`terraform init`).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { region = "eu-west-1", name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:x" }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = { id = "abc123", execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:abc123", root_resource_id = "root" }
  }
  mock_resource "aws_api_gateway_stage" {
    defaults = { invoke_url = "https://fb1234.execute-api.eu-west-1.amazonaws.com/fallback" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/x"
      stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/x/stream/2026-12-01T00:00:00.000"
    }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:lambda-forge-sms-worker-failures", url = "https://sqs.eu-west-1.amazonaws.com/123456789012/lambda-forge-sms-worker-failures" }
  }
  mock_resource "aws_cognito_user_pool" {
    defaults = { id = "eu-west-1_abc", arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc" }
  }
  mock_resource "aws_cognito_user_pool_domain" {
    defaults = { domain = "lambda-forge" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/x" }
  }
  mock_resource "aws_lambda_layer_version" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:layer:x:1" }
  }
  mock_resource "aws_lambda_alias" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:x:live"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:x:live/invocations"
    }
  }
}

mock_provider "random" {
  mock_resource "random_bytes" {
    defaults = { base64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
  }
}

variables {
  artifacts_dir        = "tests/fixtures/artifacts-sms-worker"
  app_url              = "https://app.example.com"
  cors_allowed_origins = ["https://app.example.com"]
}

run "the_inbound_table_streams_new_messages_to_the_worker" {
  command = apply

  assert {
    condition     = aws_dynamodb_table.this["idempotency"].stream_enabled && aws_dynamodb_table.this["idempotency"].stream_view_type == "NEW_IMAGE"
    error_message = "the inbound-message table needs a NEW_IMAGE stream"
  }
  assert {
    condition     = !aws_dynamodb_table.this["sms_history"].stream_enabled && !aws_dynamodb_table.this["users"].stream_enabled
    error_message = "only the inbound-message table has a stream"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.sms_worker[0].event_source_arn == aws_dynamodb_table.this["idempotency"].stream_arn
    error_message = "the mapping reads the inbound table's stream"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.sms_worker[0].function_name == aws_lambda_alias.this["sms-worker"].arn
    error_message = "the mapping invokes the worker's alias, so rollbacks apply to it"
  }
  assert {
    condition = (
      aws_lambda_event_source_mapping.sms_worker[0].batch_size == 10 &&
      aws_lambda_event_source_mapping.sms_worker[0].maximum_retry_attempts == 3 &&
      aws_lambda_event_source_mapping.sms_worker[0].maximum_record_age_in_seconds == 3600 &&
      aws_lambda_event_source_mapping.sms_worker[0].bisect_batch_on_function_error &&
      aws_lambda_event_source_mapping.sms_worker[0].parallelization_factor == 1 &&
      aws_lambda_event_source_mapping.sms_worker[0].starting_position == "TRIM_HORIZON" &&
      toset(aws_lambda_event_source_mapping.sms_worker[0].function_response_types) == toset(["ReportBatchItemFailures"])
    )
    error_message = "batch size, retries, record age, bisection, ordering and partial batch responses"
  }
  assert {
    condition     = jsondecode(one(one(aws_lambda_event_source_mapping.sms_worker[0].filter_criteria).filter).pattern) == { eventName = ["INSERT"] }
    error_message = "only INSERTs (new messages) reach the worker"
  }
  assert {
    condition     = one(one(aws_lambda_event_source_mapping.sms_worker[0].destination_config).on_failure).destination_arn == aws_sqs_queue.sms_worker_failures[0].arn
    error_message = "failed records go to the on-failure queue"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.sms_worker_failures[0].dimensions.QueueName == aws_sqs_queue.sms_worker_failures[0].name && aws_cloudwatch_metric_alarm.sms_worker_failures[0].threshold == 0
    error_message = "the on-failure queue has its own alarm, on the first message"
  }
  assert {
    condition     = output.sms_worker_failure_queue_url == aws_sqs_queue.sms_worker_failures[0].url
    error_message = output.sms_worker_failure_queue_url
  }
}

run "the_webhook_and_the_worker_get_their_own_settings_and_permissions" {
  command = apply

  assert {
    condition     = aws_lambda_function.this["sms-worker"].environment[0].variables["MAX_ATTEMPTS"] == "4"
    error_message = "the worker apologises on the attempt Lambda's last retry brings"
  }
  assert {
    condition     = aws_lambda_function.this["sms-worker"].environment[0].variables["IDEMPOTENCY_TABLE"] == aws_lambda_function.this["sms"].environment[0].variables["IDEMPOTENCY_TABLE"]
    error_message = "the webhook and the worker share the inbound-message table"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this["sms"].environment[0].variables), "USERS_TABLE") && !contains(keys(aws_lambda_function.this["sms"].environment[0].variables), "SMS_HISTORY_TABLE")
    error_message = "the webhook no longer reads users or history"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function["sms"].statement : s.sid] == ["Logs", "RecordInbound", "Secret"]
    error_message = "the webhook may only write its log, put inbound messages and read its secret"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["sms"].statement : s.actions if s.sid == "RecordInbound"]) == toset(["dynamodb:PutItem"])
    error_message = "the webhook's only table call is the conditional put"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function["sms-worker"].statement : s.sid] == ["Logs", "InboundStream", "InboundStates", "History", "UserByPhone", "MirrorOptIn", "Secret", "OnFailureQueue"]
    error_message = "the worker's statements"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["sms-worker"].statement : s.resources if s.sid == "OnFailureQueue"]) == toset([aws_sqs_queue.sms_worker_failures[0].arn])
    error_message = "the worker's role may write to its own on-failure queue only"
  }
}

run "the_fallback_url_answers_the_apology_as_twiml" {
  command = apply

  variables {
    sms_apology_text = "Sorry <we> & you: later"
  }

  assert {
    condition     = output.twilio_fallback_url == "https://fb1234.execute-api.eu-west-1.amazonaws.com/fallback/"
    error_message = output.twilio_fallback_url
  }
  assert {
    condition     = aws_api_gateway_integration_response.sms_fallback["POST"].response_templates["application/json"] == "#[[<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Sorry &lt;we&gt; &amp; you: later</Message></Response>]]#"
    error_message = aws_api_gateway_integration_response.sms_fallback["POST"].response_templates["application/json"]
  }
  assert {
    condition     = aws_api_gateway_integration.sms_fallback["POST"].type == "MOCK" && aws_api_gateway_method.sms_fallback["POST"].authorization == "NONE"
    error_message = "a static answer: no Lambda, no table"
  }
  assert {
    condition     = aws_lambda_function.this["sms"].environment[0].variables["APOLOGY_TEXT"] == "Sorry <we> & you: later" && aws_lambda_function.this["sms-worker"].environment[0].variables["APOLOGY_TEXT"] == "Sorry <we> & you: later"
    error_message = "one apology everywhere"
  }
}

run "an_artifact_set_without_the_worker_gets_no_mapping" {
  command = plan

  variables {
    artifacts_dir = "tests/fixtures/artifacts"
  }

  assert {
    condition     = length(aws_lambda_event_source_mapping.sms_worker) == 0 && length(aws_sqs_queue.sms_worker_failures) == 0
    error_message = "an sms function from before the worker answers by itself"
  }
}

run "retries_are_bounded" {
  command = plan

  variables {
    sms_worker_maximum_retry_attempts = 11
  }

  expect_failures = [var.sms_worker_maximum_retry_attempts]
}
