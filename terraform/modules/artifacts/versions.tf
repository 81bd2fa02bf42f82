terraform {
  # No providers: the module only reads files, so `terraform test` runs offline.
  required_version = ">= 1.5"
}
