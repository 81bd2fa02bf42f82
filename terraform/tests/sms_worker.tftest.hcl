# The sms worker's wiring (sms_worker.tf), applied against the real AWS
# provider schema with mocked answers (tests/mocks): the stream, the event
# source mapping, the on-failure queue, its alarm and its policy, the
# worker's environment and role, the static Fallback URL.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir = "tests/fixtures/artifacts-sms-worker"
}

override_resource {
  target = aws_api_gateway_stage.sms_fallback
  values = { invoke_url = "https://fb1234.execute-api.eu-west-1.amazonaws.com/fallback" }
}

# Lambda checks that the on-failure destination is an ARN.
override_resource {
  target = aws_sqs_queue.sms_worker_failures
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:lambda-forge-sms-worker-failures"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/lambda-forge-sms-worker-failures"
  }
}

run "the_inbound_table_streams_new_messages_to_the_worker" {
  command         = apply
  expect_failures = [check.deployed_code_is_the_build]

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
  command         = apply
  expect_failures = [check.deployed_code_is_the_build]

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
    condition     = [for s in jsondecode(aws_iam_role_policy.function["sms"].policy).Statement : s.Sid] == ["Logs", "RecordInbound", "Secret"]
    error_message = "the webhook may only write its log, put inbound messages and read its secret"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.function["sms"].policy).Statement : s.Action if s.Sid == "RecordInbound"]) == ["dynamodb:PutItem"]
    error_message = "the webhook's only table call is the conditional put"
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["sms-worker"].policy).Statement : s.Sid] == ["Logs", "InboundStream", "InboundStates", "History", "UserByPhone", "MirrorOptIn", "Secret"]
    error_message = "the worker's statements"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.function["sms-worker"].policy).Statement : s.Resource if s.Sid == "UserByPhone"]) == ["arn:aws:dynamodb:eu-west-1:123456789012:table/mock/index/phone-index"]
    error_message = "the worker queries the users table's phone index only"
  }
  assert {
    condition     = jsonencode(one([for s in jsondecode(aws_iam_role_policy.function["sms-worker"].policy).Statement : s.Condition if s.Sid == "MirrorOptIn"])) == jsonencode({ "ForAllValues:StringEquals" = { "dynamodb:Attributes" = ["user_id", "phone", "sms_opt_in", "updated_at", "version"] } })
    error_message = "STOP/START mirroring may only touch the opt-in attributes"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.function["sms-worker"].policy).Statement : s.Resource if s.Sid == "InboundStream"]) == [aws_dynamodb_table.this["idempotency"].stream_arn]
    error_message = "the event source mapping reads the inbound table's stream and no other"
  }
  assert {
    condition     = aws_iam_role_policy.sms_worker_failures[0].role == aws_iam_role.function["sms-worker"].id && jsondecode(aws_iam_role_policy.sms_worker_failures[0].policy).Statement[0].Action == ["sqs:SendMessage"] && jsondecode(aws_iam_role_policy.sms_worker_failures[0].policy).Statement[0].Resource == [aws_sqs_queue.sms_worker_failures[0].arn]
    error_message = "the worker's role may write to its own on-failure queue only"
  }
}

run "the_fallback_url_answers_the_apology_as_twiml" {
  command         = apply
  expect_failures = [check.deployed_code_is_the_build]

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
  command         = plan
  expect_failures = [check.deployed_code_is_the_build]

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
