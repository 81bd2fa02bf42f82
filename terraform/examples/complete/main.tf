provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project = "lambda-forge"
      Example = "complete"
    }
  }
}

module "lambda_forge" {
  source = "../../"

  name          = "lambda-forge-example"
  artifacts_dir = var.artifacts_dir

  external_layers = var.observability_layer_arn == null ? {} : {
    vendor-observability = {
      arn            = var.observability_layer_arn
      unzipped_bytes = 83886080
      attach_to      = ["*"]
    }
  }

  # The browser app and the API on one site, so that the SameSite=Lax auth
  # cookies travel with the app's requests.
  app_url              = var.app_url
  cors_allowed_origins = [var.app_url]
  domain_name          = var.api_domain_name
  route53_zone_id      = var.route53_zone_id
  certificate_arn      = var.certificate_arn

  # Phone numbers are proven by a code texted from the Twilio number.
  phone_verification_from = var.twilio_number

  memory_size       = { sms = 256 }
  extra_environment = { sms = { OPENAI_MODEL = "gpt-4o-mini", HISTORY_TURNS = "10" } }

  log_retention_in_days = 30
  api_gateway_logging   = var.api_gateway_logging

  # Disposable: destroy and apply again without waiting for recovery windows
  # or lifting deletion protection. Keep the defaults in production.
  dynamodb_deletion_protection   = false
  cognito_deletion_protection    = false
  secret_recovery_window_in_days = 0

  tags = { Environment = "example" }
}
