output "api_url" {
  description = "Base URL of the API stage."
  value       = module.lambda_forge.api_url
}

output "twilio_webhook_url" {
  description = "Set this as the Twilio number's incoming-message webhook."
  value       = module.lambda_forge.twilio_webhook_url
}

output "secret_arns" {
  description = "Put the sms and auth secret values here (outside Terraform)."
  value       = module.lambda_forge.secret_arns
}

output "hosted_ui_domain" {
  description = "Cognito hosted-UI domain."
  value       = module.lambda_forge.user_pool_domain
}

output "function_versions" {
  description = "Newest published version per function (for a later rollback)."
  value       = module.lambda_forge.function_versions
}

output "layer_arns" {
  description = "Published layer versions."
  value       = module.lambda_forge.layer_arns
}
