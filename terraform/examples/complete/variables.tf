variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "artifacts_dir" {
  description = "The flake's output, relative to this directory (`nix build` at the repository root makes ../../../result)."
  type        = string
  default     = "../../../result"
}

variable "app_url" {
  description = "URL of the web app, e.g. https://app.example.com."
  type        = string
}

variable "api_domain_name" {
  description = "Host of the API on the web app's site, e.g. api.example.com: the auth cookies reach only hosts on the app's site."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of api_domain_name: the module creates and validates the certificate and points the name at the API. null with certificate_arn set: add the DNS record yourself (output api_domain_target)."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "An existing ACM certificate for api_domain_name in this region, instead of creating one through route53_zone_id."
  type        = string
  default     = null
}

variable "api_gateway_logging" {
  description = "off, existing (the region already has API Gateway's CloudWatch role: `aws apigateway get-account`) or manage (create and register it for the whole region)."
  type        = string
  default     = "off"
}

variable "observability_layer_arn" {
  description = "Optional vendor observability layer to attach to every function (its size counts against 250 MB); null attaches none."
  type        = string
  default     = null
}

variable "twilio_number" {
  description = "Your Twilio number (E.164): texts users the code that proves a phone number they claim. null: only administrators can set phone numbers."
  type        = string
  default     = null
}
