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

  app_url              = var.app_url
  cors_allowed_origins = [var.app_url]

  memory_size       = { sms = 256 }
  extra_environment = { sms = { OPENAI_MODEL = "gpt-4o-mini", HISTORY_TURNS = "10" } }

  log_retention_in_days        = 30
  dynamodb_deletion_protection = false
  cognito_deletion_protection  = false
  manage_api_gateway_account   = true

  tags = { Environment = "example" }
}
