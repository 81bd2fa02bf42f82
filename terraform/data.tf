data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The region and API Gateway's host suffix for it, with attributes that
# provider 5.x and 6.x both have (aws_region's `name` is deprecated in 6.x,
# its `region` absent from 5.x).
data "aws_service" "execute_api" {
  service_id = "execute-api"
}

# Service principals as the partition spells them.
data "aws_service_principal" "lambda" {
  service_name = "lambda"
}

data "aws_service_principal" "apigateway" {
  service_name = "apigateway"
}
