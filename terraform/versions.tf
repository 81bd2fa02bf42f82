terraform {
  # 1.7: the module's tests use mock providers and override_data.
  required_version = ">= 1.7"

  # Provider 5.100 and every 6.x release: only arguments and attributes both
  # majors accept (README "Provider versions").
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}
