output "api_base_url" {
  description = "Where the web app calls the API (its own site)."
  value       = module.lambda_forge.public_base_url
}

output "sign_in_url" {
  description = "Send the browser here to sign in; it comes back to app_url with the auth cookies set."
  value       = "${module.lambda_forge.public_base_url}/auth/login"
}

output "api_domain_target" {
  description = "Where the API domain's DNS points (created for you with route53_zone_id)."
  value       = module.lambda_forge.api_domain_target
}

output "twilio_webhook_url" {
  description = "Set this as the Twilio number's incoming-message webhook."
  value       = module.lambda_forge.twilio_webhook_url
}

output "twilio_fallback_url" {
  description = "Set this as the Twilio number's Fallback URL (HTTP POST): a static apology when the webhook cannot answer."
  value       = module.lambda_forge.twilio_fallback_url
}

output "secret_arns" {
  description = "Put the sms and auth secret values here (outside Terraform)."
  value       = module.lambda_forge.secret_arns
}

output "hosted_ui_domain" {
  description = "Cognito hosted-UI domain."
  value       = module.lambda_forge.user_pool_domain
}

output "user_pool_id" {
  description = "Cognito user pool, to create the first users."
  value       = module.lambda_forge.user_pool_id
}

output "function_versions" {
  description = "Newest published version per function (for a later rollback)."
  value       = module.lambda_forge.function_versions
}

output "layer_arns" {
  description = "Published layer versions."
  value       = module.lambda_forge.layer_arns
}
