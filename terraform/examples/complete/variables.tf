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
  description = "URL of the web app."
  type        = string
  default     = "https://app.example.com"
}

variable "observability_layer_arn" {
  description = "Optional vendor observability layer to attach to every function (its size counts against 250 MB); null attaches none."
  type        = string
  default     = null
}
