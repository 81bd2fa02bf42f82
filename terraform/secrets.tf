# Containers only: the values (Twilio/OpenAI credentials for sms; cookie key
# and optional client secret for auth) are put with the CLI or console, so
# they never appear in Terraform state. See README "Secrets".
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:the values are third-party API keys rotated at their issuers; the functions re-read the secret after a short cache TTL
  #checkov:skip=CKV_AWS_149:a customer-managed key is optional (var.kms_key_arn); Secrets Manager uses its AWS-managed key otherwise
  for_each = {
    sms  = "Twilio and OpenAI credentials for the sms function (JSON: twilio_account_sid, twilio_auth_token, openai_api_key, optional twilio_messaging_service_sid)"
    auth = "Cookie signing key and optional Cognito app client secret for the auth function"
  }

  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days
  tags                    = var.tags
}
