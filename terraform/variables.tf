################################################################################
# Artifacts
################################################################################

variable "artifacts_dir" {
  description = "Directory with manifest.json and the archives (the flake's result/ or dist/ from `cargo xtask dist`). Use a path relative to the working directory so state does not depend on the machine."
  type        = string
}

variable "external_layers" {
  description = "Layers attached by ARN, keyed by the name the manifest's `external_layers` use: `arn`, optional `unzipped_bytes` (overrides the manifest's size; counts against 250 MB) and `attach_to` (extra function names, or \"*\")."
  type = map(object({
    arn            = string
    unzipped_bytes = optional(number)
    attach_to      = optional(list(string), [])
  }))
  default = {}
}

################################################################################
# Naming and shared settings
################################################################################

variable "name" {
  description = "Prefix for every resource name (functions, roles, tables, secrets, API, user pool)."
  type        = string
  default     = "lambda-forge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for log groups, tables, secrets and function environment variables. null uses AWS-managed encryption."
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of the functions' and the API's CloudWatch log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

################################################################################
# Functions
################################################################################

variable "memory_size" {
  description = "Memory in MB per function name, overriding the manifest's memory_mb."
  type        = map(number)
  default     = {}
}

variable "timeout" {
  description = "Timeout in seconds per function name, overriding the manifest's timeout_s."
  type        = map(number)
  default     = {}
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency per function name; functions not listed are unreserved (-1)."
  type        = map(number)
  default     = {}
}

variable "extra_environment" {
  description = "Extra environment variables per function name, merged over the ones this module sets."
  type        = map(map(string))
  default     = {}
}

variable "extra_policy_statements" {
  description = "Extra IAM statements per function name, added to its role's policy after the module's own (e.g. a bucket a fork's function reads). `sid` letters and digits only."
  type = map(list(object({
    sid       = optional(string)
    effect    = optional(string, "Allow")
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  })))
  default = {}

  validation {
    condition     = alltrue(flatten([for ss in values(var.extra_policy_statements) : [for s in ss : contains(["Allow", "Deny"], s.effect) && (s.sid == null || can(regex("^[A-Za-z0-9]+$", s.sid)))]]))
    error_message = "Every extra statement needs effect Allow or Deny and a sid of letters and digits only."
  }
}

variable "log_format" {
  description = "Lambda log format: JSON (Lambda's own lines as JSON, application/system log levels apply) or Text. The functions already write JSON lines either way."
  type        = string
  default     = "JSON"

  validation {
    condition     = contains(["JSON", "Text"], var.log_format)
    error_message = "log_format must be JSON or Text."
  }
}

variable "application_log_level" {
  description = "With log_format JSON: the lowest level of the functions' own lines that is kept (TRACE, DEBUG, INFO, WARN, ERROR, FATAL). Lambda passes it as AWS_LAMBDA_LOG_LEVEL, which the functions' logging reads."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  }
}

variable "application_log_levels" {
  description = "application_log_level per function name, for the functions that differ."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for l in values(var.application_log_levels) : contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], l)])
    error_message = "application_log_levels values must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  }
}

variable "system_log_level" {
  description = "With log_format JSON: the lowest level of Lambda's platform lines (START, END, REPORT are INFO) that is kept: DEBUG, INFO or WARN."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level must be DEBUG, INFO or WARN."
  }
}

variable "tracing_enabled" {
  description = "Turns on X-Ray active tracing for the functions and the API stage."
  type        = bool
  default     = false
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the functions' IAM roles."
  type        = string
  default     = null
}

variable "function_alias" {
  description = "Name of the alias API Gateway invokes; it points at the newest published version unless `function_versions` pins one."
  type        = string
  default     = "live"
}

variable "function_versions" {
  description = "Rollback: published version number per function name for the alias to point at instead of the newest one."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.function_versions) : can(regex("^[1-9][0-9]*$", v))])
    error_message = "function_versions values must be published version numbers such as \"6\" ($LATEST cannot be rolled back to)."
  }
}

variable "layer_skip_destroy" {
  description = "Keep superseded layer versions in AWS when a new one is published, so a rollback can still use them."
  type        = bool
  default     = true
}

################################################################################
# Data
################################################################################

variable "dynamodb_deletion_protection" {
  description = "Deletion protection on the DynamoDB tables."
  type        = bool
  default     = true
}

variable "secret_recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once)."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30)
    error_message = "secret_recovery_window_in_days must be 0 or between 7 and 30."
  }
}

################################################################################
# Cognito
################################################################################

variable "create_cognito" {
  description = "Create the user pool, app client, admin group and hosted-UI domain; false uses existing ones given by id."
  type        = bool
  default     = true
}

variable "admin_group" {
  description = "Cognito group whose members may administer every user profile (created with the pool; ADMIN_GROUP of the users function)."
  type        = string
  default     = "admin"
}

variable "cognito_user_pool_id" {
  description = "Existing user pool id (when create_cognito is false)."
  type        = string
  default     = null
}

variable "cognito_client_id" {
  description = "Existing app client id (when create_cognito is false)."
  type        = string
  default     = null
}

variable "cognito_domain" {
  description = "Existing hosted-UI domain host, e.g. auth.example.com or <prefix>.auth.<region>.amazoncognito.com (when create_cognito is false)."
  type        = string
  default     = null
}

variable "cognito_domain_prefix" {
  description = "Prefix of the hosted-UI domain to create (<prefix>.auth.<region>.amazoncognito.com). Prefixes are unique per region across all AWS accounts, so the default is `<name>-<account id>`."
  type        = string
  default     = null

  validation {
    condition     = var.cognito_domain_prefix == null || can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.cognito_domain_prefix))
    error_message = "cognito_domain_prefix must be 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "cognito_deletion_protection" {
  description = "Deletion protection of the created user pool."
  type        = bool
  default     = true
}

variable "cognito_generate_client_secret" {
  description = "Give the created app client a secret. The login uses PKCE either way; a generated secret is stored in Terraform state and must also be copied into the auth secret."
  type        = bool
  default     = false
}

variable "callback_urls" {
  description = "OAuth callback URLs of the app client; empty means the API's /auth/callback. The first is the auth function's REDIRECT_URI."
  type        = list(string)
  default     = []

  validation {
    # The auth function scopes its state and refresh cookies to the
    # callback's parent path, so the callback must be <prefix>/callback.
    condition     = length(var.callback_urls) == 0 || endswith(try(var.callback_urls[0], ""), "/callback")
    error_message = "The first callback URL is where the auth function's /auth/callback route is served, so it must end in /callback."
  }
}

variable "logout_urls" {
  description = "Sign-out URLs of the app client; empty means app_url."
  type        = list(string)
  default     = []
}

variable "oauth_scopes" {
  description = "OAuth scopes the app client allows and the auth function requests."
  type        = list(string)
  default     = ["openid", "email", "profile"]
}

variable "refresh_token_validity_days" {
  description = "Refresh token validity of the created app client, in days."
  type        = number
  default     = 30
}

variable "access_token_validity_minutes" {
  description = "Access and ID token validity of the created app client, in minutes."
  type        = number
  default     = 60
}

################################################################################
# Web app and CORS
################################################################################

variable "app_url" {
  description = "URL of the web app: where the auth function redirects after sign-in and sign-out."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.app_url))
    error_message = "app_url must be an http(s) URL."
  }
}

variable "cookie_domain" {
  description = "Domain attribute of the auth cookies; null scopes them to the API host. When set it must be the API host or a parent of it."
  type        = string
  default     = null
}

variable "cors_allowed_origins" {
  description = "Origins allowed to call the API from a browser (exact origins, or https://*.example.com)."
  type        = list(string)

  validation {
    condition     = length(var.cors_allowed_origins) > 0 && !contains(var.cors_allowed_origins, "*")
    error_message = "List at least one origin and not \"*\": the API answers with credentials (cookies)."
  }
}

variable "cors_allow_credentials" {
  description = "Send Access-Control-Allow-Credentials: true (needed for the auth cookies)."
  type        = bool
  default     = true
}

################################################################################
# API Gateway
################################################################################

variable "stage_name" {
  description = "Name of the API Gateway stage."
  type        = string
  default     = "v1"
}

variable "domain_name" {
  description = "Custom domain of the API, on the web app's site (e.g. api.example.com for https://app.example.com): the auth cookies are SameSite=Lax, so browsers send them only to a host on the app's site. null leaves the API on its execute-api URL, which works only with authorizer_credential_source = \"authorization\"."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lower-case host name such as api.example.com."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name, in the API's region (a regional endpoint). null creates one, validated through route53_zone_id."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain_name: the module adds the certificate's validation records (when it creates the certificate) and A/AAAA alias records to the API. null leaves DNS to you (outputs api_domain_target)."
  type        = string
  default     = null
}

variable "base_path" {
  description = "Path under domain_name where the stage is mapped (e.g. \"v1\" for https://api.example.com/v1); null maps it at the root."
  type        = string
  default     = null

  validation {
    condition     = var.base_path == null || can(regex("^[A-Za-z0-9._-]+$", var.base_path))
    error_message = "base_path must be one path segment of letters, digits, . _ and -, without slashes."
  }
}

variable "public_base_url" {
  description = "Base URL when something else fronts the API (e.g. a CloudFront path on the app's own host); it is what Twilio signs and what cookies and callbacks are built from. null uses https://<domain_name>[/<base_path>], or the stage's execute-api URL without domain_name."
  type        = string
  default     = null

  validation {
    condition     = var.public_base_url == null || can(regex("^https://[^/?#]+(/[^?#]*)?$", var.public_base_url))
    error_message = "public_base_url must be an https URL without query or fragment."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second allowed on the stage."
  type        = number
  default     = 50
}

variable "throttling_burst_limit" {
  description = "Burst of requests allowed on the stage."
  type        = number
  default     = 100
}

variable "api_gateway_logging" {
  description = "API Gateway access and execution logs. A REST API writes them through the region's account-level CloudWatch role: \"off\" (default, works on any account) writes none; \"existing\" uses the role already registered (`aws apigateway get-account`); \"manage\" also creates that role and registers it, for the whole region (read README \"API Gateway logging\" before destroying)."
  type        = string
  default     = "off"

  validation {
    condition     = contains(["off", "existing", "manage"], var.api_gateway_logging)
    error_message = "api_gateway_logging must be off, existing or manage."
  }
}

variable "api_logging_level" {
  description = "API Gateway execution logging level when api_gateway_logging is not off: OFF, ERROR or INFO."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api_logging_level)
    error_message = "api_logging_level must be OFF, ERROR or INFO."
  }
}

variable "api_metrics_enabled" {
  description = "Detailed CloudWatch metrics for every method of the stage."
  type        = bool
  default     = true
}

variable "authorizer_credential_source" {
  description = "The one credential the authorizer reads, which is also what API Gateway caches its answer on and requires before calling it: \"cookie\" (the access-token cookie the auth function sets; the web app's case, needs the API on the app's site) or \"authorization\" (an `Authorization: Bearer` header; API clients). Sets the authorizer's CREDENTIAL_SOURCE and the REST authorizer's identity source together."
  type        = string
  default     = "cookie"

  validation {
    condition     = contains(["cookie", "authorization"], var.authorizer_credential_source)
    error_message = "authorizer_credential_source must be cookie or authorization."
  }
}

variable "authorizer_function" {
  description = "The function of the manifest that is the REST API's Lambda REQUEST authorizer for routes declared `authorized = true`."
  type        = string
  default     = "authorizer"
}

variable "authorizer_result_ttl_in_seconds" {
  description = "How long API Gateway caches the authorizer's policy (0-3600)."
  type        = number
  default     = 300

  validation {
    condition     = var.authorizer_result_ttl_in_seconds >= 0 && var.authorizer_result_ttl_in_seconds <= 3600
    error_message = "authorizer_result_ttl_in_seconds must be between 0 and 3600."
  }
}

variable "web_acl_arn" {
  description = "WAFv2 web ACL to associate with the stage."
  type        = string
  default     = null
}

variable "phone_verification_from" {
  description = "Your Twilio number (E.164, e.g. +15550100) that texts phone-verification codes when a signed-in user claims a phone number; the users function reads the Twilio credentials from the sms secret (or uses its twilio_messaging_service_sid). null: nobody can prove a number (users answers 503 phone_verification_unavailable) and only administrators can set one."
  type        = string
  default     = null

  validation {
    condition     = var.phone_verification_from == null || can(regex("^\\+[1-9][0-9]{6,14}$", var.phone_verification_from))
    error_message = "phone_verification_from must be an E.164 number: '+', then 7 to 15 digits, the first not 0."
  }
}
