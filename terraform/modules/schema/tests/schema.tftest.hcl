# The schema that Terraform deploys and the Rust crates load into moto:
# these runs pin what the users and sms issues require of it, so a change
# to terraform/schema/dynamodb.json that breaks either side fails here.

variables {
  schema_json     = file("../../schema/dynamodb.json")
  required_tables = ["users", "phone_claims", "sms_history", "idempotency"]
}

run "repository_schema_is_valid" {
  command = plan

  assert {
    condition     = length(local.errors) == 0
    error_message = "schema/dynamodb.json has errors: ${jsonencode(local.errors)}"
  }
}

run "users_keyed_by_user_id_with_phone_index" {
  command = plan

  assert {
    condition     = output.tables.users.hash_key == "user_id" && output.tables.users.range_key == null
    error_message = "users must be keyed by user_id alone"
  }
  assert {
    condition = output.tables.users.global_secondary_indexes == [{
      name = "phone-index", hash_key = "phone", range_key = null, projection_type = "ALL", non_key_attributes = null
    }]
    error_message = "users needs exactly the phone-index GSI (hash key phone, projection ALL)"
  }
  assert {
    condition     = toset(output.tables.users.attributes) == toset([{ name = "phone", type = "S" }, { name = "user_id", type = "S" }])
    error_message = "users key attributes must be user_id (S) and phone (S)"
  }
}

run "phone_claims_keyed_by_phone" {
  command = plan

  assert {
    condition     = output.tables.phone_claims.hash_key == "phone" && output.tables.phone_claims.range_key == null && output.tables.phone_claims.attributes == [{ name = "phone", type = "S" }]
    error_message = "phone_claims must be keyed by phone (S)"
  }
}

run "sms_history_by_phone_and_numeric_ts_with_ttl" {
  command = plan

  assert {
    condition     = output.tables.sms_history.hash_key == "phone" && output.tables.sms_history.range_key == "ts"
    error_message = "sms_history must be keyed by phone + ts"
  }
  assert {
    condition     = contains(output.tables.sms_history.attributes, { name = "ts", type = "N" })
    error_message = "sms_history.ts must be a Number"
  }
  assert {
    condition     = output.tables.sms_history.ttl_attribute == "expires_at"
    error_message = "sms_history expires through TTL attribute expires_at"
  }
}

run "idempotency_by_message_sid_with_ttl" {
  command = plan

  assert {
    condition     = output.tables.idempotency.hash_key == "message_sid" && output.tables.idempotency.ttl_attribute == "expires_at"
    error_message = "idempotency must be keyed by message_sid with TTL expires_at"
  }
  assert {
    condition     = output.tables.idempotency.stream_view_type == "NEW_IMAGE"
    error_message = "the sms worker reads inbound messages (sender included) from the idempotency table's stream: NEW_IMAGE"
  }
  assert {
    condition     = [for name, t in output.tables : name if t.stream_view_type != null] == ["idempotency"]
    error_message = "only the inbound-message table has a stream"
  }
}

# One failing case per validation rule.

run "rejects_invalid_json" {
  command = plan
  variables {
    schema_json = "{not json"
  }
  expect_failures = [var.schema_json]
}

run "rejects_wrong_schema_version" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 2, tables = { t = { hash_key = "id", attributes = { id = "S" } } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["schema_version must be 1"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_schema_without_tables" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = {} })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["the schema defines no tables"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_missing_required_table" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { users = { hash_key = "user_id", attributes = { user_id = "S" } } } })
    required_tables = ["users", "sms_history"]
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"sms_history\" is required but not defined"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_non_snake_case_name" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { SmsHistory = { hash_key = "id", attributes = { id = "S" } } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"SmsHistory\": logical names are lower_snake_case"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_missing_hash_key" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { t = { attributes = {} } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": hash_key is missing"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_key_without_attribute_type" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { t = { hash_key = "id", range_key = "ts", attributes = { id = "S" } } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": key attribute \"ts\" has no type in attributes"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_bad_attribute_type" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { t = { hash_key = "id", attributes = { id = "BOOL" } } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": attribute \"id\" has type \"BOOL\"; key attributes are S, N or B"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_unused_attribute" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { t = { hash_key = "id", attributes = { id = "S", email = "S" } } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": attribute \"email\" is declared but no key or index uses it (DynamoDB rejects it)"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_bad_projection_type" {
  command = plan
  variables {
    schema_json = jsonencode({ schema_version = 1, tables = { t = {
      hash_key                 = "id", attributes = { id = "S", phone = "S" },
      global_secondary_indexes = [{ name = "by-phone", hash_key = "phone", projection_type = "SOME" }]
    } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": index \"by-phone\" has projection_type \"SOME\"; use ALL, KEYS_ONLY or INCLUDE"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_index_without_name" {
  command = plan
  variables {
    schema_json = jsonencode({ schema_version = 1, tables = { t = {
      hash_key                 = "id", attributes = { id = "S", phone = "S" },
      global_secondary_indexes = [{ hash_key = "phone", projection_type = "ALL" }]
    } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": an index has no name or no hash_key"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_duplicate_index_names" {
  command = plan
  variables {
    schema_json = jsonencode({ schema_version = 1, tables = { t = {
      hash_key = "id", attributes = { id = "S", phone = "S", email = "S" },
      global_secondary_indexes = [
        { name = "idx", hash_key = "phone", projection_type = "ALL" },
        { name = "idx", hash_key = "email", projection_type = "ALL" },
      ]
    } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": index names are not unique"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_ttl_on_key_attribute" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { t = { hash_key = "id", range_key = "ts", attributes = { id = "S", ts = "N" }, ttl_attribute = "ts" } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": ttl_attribute \"ts\" is a key attribute; TTL needs a plain Number attribute"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_unknown_stream_view_type" {
  command = plan
  variables {
    schema_json     = jsonencode({ schema_version = 1, tables = { t = { hash_key = "id", attributes = { id = "S" }, stream_view_type = "EVERYTHING" } } })
    required_tables = []
  }
  expect_failures = [output.tables]
  assert {
    condition     = local.errors == ["table \"t\": stream_view_type \"EVERYTHING\" is not one of NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY (or null for no stream)"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}
