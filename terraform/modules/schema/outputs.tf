output "tables" {
  description = "Validated tables by logical name: hash_key, range_key, attributes [{name, type}], global_secondary_indexes [{name, hash_key, range_key, projection_type, non_key_attributes}], ttl_attribute, stream_view_type (null: no stream)."
  value       = local.tables

  precondition {
    condition     = length(local.errors) == 0
    error_message = "schema/dynamodb.json is invalid:\n  - ${join("\n  - ", local.errors)}"
  }
}
