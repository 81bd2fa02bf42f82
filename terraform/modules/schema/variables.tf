variable "schema_json" {
  description = "Contents of schema/dynamodb.json: table logical name -> key schema, attribute types, GSIs, TTL attribute and stream view type."
  type        = string

  validation {
    condition     = can(jsondecode(var.schema_json))
    error_message = "The DynamoDB schema is not valid JSON."
  }
}

variable "required_tables" {
  description = "Logical table names the caller needs; each must be defined in the schema."
  type        = list(string)
  default     = []
}
