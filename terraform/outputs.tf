output "api_url" {
  description = "Base URL of the API stage."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "public_base_url" {
  description = "Base URL the functions are told they live at (public_base_url, or the stage URL)."
  value       = local.api_base_url
}

output "twilio_webhook_url" {
  description = "URL to set as the Twilio number's incoming-message webhook (HTTP POST)."
  value       = "${trimsuffix(local.api_base_url, "/")}/sms/inbound"
}

output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_name" {
  description = "Name of the deployed stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "function_names" {
  description = "Lambda function name per function."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "function_arns" {
  description = "Unqualified Lambda function ARN per function."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "function_versions" {
  description = "Newest published version per function (the alias may be pinned to an older one)."
  value       = { for k, f in aws_lambda_function.this : k => f.version }
}

output "function_alias_arns" {
  description = "ARN of the alias API Gateway invokes, per function."
  value       = { for k, a in aws_lambda_alias.this : k => a.arn }
}

output "function_source_code_hashes" {
  description = "source_code_hash per function, as read from the manifest (unchanged sources give unchanged hashes)."
  value       = { for k, f in module.artifacts.functions : k => f.source_code_hash }
}

output "layer_arns" {
  description = "Versioned ARN of each layer built from the manifest."
  value       = { for k, l in aws_lambda_layer_version.this : k => l.arn }
}

output "log_group_names" {
  description = "CloudWatch log group per function, plus `api_access` for the stage's access log."
  value       = merge({ for k, g in aws_cloudwatch_log_group.function : k => g.name }, { api_access = aws_cloudwatch_log_group.api_access.name })
}

output "table_names" {
  description = "DynamoDB table name per logical table (users, phone_claims, sms_history, idempotency)."
  value       = { for k, t in aws_dynamodb_table.this : k => t.name }
}

output "table_arns" {
  description = "DynamoDB table ARN per logical table."
  value       = { for k, t in aws_dynamodb_table.this : k => t.arn }
}

output "secret_arns" {
  description = "Secrets Manager secret ARN per function (sms, auth); put the values outside Terraform."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "user_pool_id" {
  description = "Cognito user pool id."
  value       = local.user_pool_id
}

output "user_pool_client_id" {
  description = "Cognito app client id."
  value       = local.user_pool_client_id
}

output "user_pool_domain" {
  description = "Host of the Cognito hosted UI."
  value       = local.user_pool_domain
}

output "artifact_sizes" {
  description = "Per function: zip_bytes, unzipped_bytes and the total unzipped size with its layers, as checked against the 250 MB limit."
  value = {
    for k, f in module.artifacts.functions : k => {
      zip_bytes            = f.zip_bytes
      unzipped_bytes       = f.unzipped_bytes
      total_unzipped_bytes = f.total_unzipped_bytes
    }
  }
}
