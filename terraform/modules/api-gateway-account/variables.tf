variable "name" {
  description = "Name of the IAM role API Gateway assumes to write logs."
  type        = string
  default     = "apigateway-cloudwatch-logs"
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the role."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the role."
  type        = map(string)
  default     = {}
}
