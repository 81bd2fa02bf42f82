terraform {
  # No providers: this module only decodes and checks JSON, so `terraform test`
  # runs offline.
  required_version = ">= 1.5"
}
