# The region's API Gateway account settings: the one role every REST API of
# the account and region uses to write access and execution logs. Manage it
# in one place per account and region (README).

data "aws_partition" "current" {}

data "aws_service_principal" "apigateway" {
  service_name = "apigateway"
}

resource "aws_iam_role" "this" {
  name        = var.name
  description = "Lets API Gateway write the access and execution logs of every REST API in this account and region"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ApiGatewayAssume"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = data.aws_service_principal.apigateway.name }
    }]
  })
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

# Destroying this resets the region's CloudWatch role with provider 6.x (5.x
# only forgets it): every other REST API of the region stops logging. To
# stop managing it without that, see README "Keeping the role".
resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.this.arn

  depends_on = [aws_iam_role_policy_attachment.this]
}
