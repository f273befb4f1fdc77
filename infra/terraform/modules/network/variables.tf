variable "name" {
  description = "Name prefix for every resource of the deployment, e.g. \"sluice-prod\"."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC. Private and public subnets are carved out of it (/20 and /24 by default for a /16)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 20
    error_message = "cidr_block must be an IPv4 CIDR of /20 or larger."
  }
}

variable "az_count" {
  description = "How many availability zones to spread subnets over. The ALB and Aurora both need at least two."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "private_subnet_newbits" {
  description = "Bits added to the VPC prefix for each private subnet (4 turns a /16 into /20s)."
  type        = number
  default     = 4
}

variable "public_subnet_newbits" {
  description = "Bits added to the VPC prefix for each public subnet (8 turns a /16 into /24s). Public subnets hold only the NAT gateways."
  type        = number
  default     = 8
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper) instead of one per AZ (survives the loss of an AZ). With the VPC endpoints, NAT only carries Bedrock calls to other regions and webhook deliveries."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (private DNS), so that same-region traffic to them bypasses the NAT gateway. Names are the last part of com.amazonaws.<region>.<name>."
  type        = set(string)
  default     = ["sqs", "sts", "bedrock-runtime", "ecr.api", "ecr.dkr", "logs", "secretsmanager"]
}

variable "flow_logs_retention_days" {
  description = "Retention of VPC flow logs (REJECT only) in CloudWatch Logs; 0 disables flow logs."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key for the flow-log group. Null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
