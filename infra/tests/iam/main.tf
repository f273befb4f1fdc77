# Renders the task roles' policies exactly as modules/iam attaches them, for
# the IAM-under-enforcement check (iam_test.go): the queue ARNs are moto's, for
# the queues the check creates. No provider and no resources: `terraform plan`
# followed by `terraform show -json` yields the documents offline.

variable "queue_arns" {
  type = list(string)
}

variable "dlq_arns" {
  type = list(string)
}

variable "bedrock_caller_role_arns" {
  type = list(string)
}

module "policies" {
  source = "../../terraform/modules/iam/task-policies"

  partition                = "aws"
  region                   = "us-east-1"
  account_id               = "123456789012"
  queue_arns               = var.queue_arns
  dlq_arns                 = var.dlq_arns
  bedrock_caller_role_arns = var.bedrock_caller_role_arns
}

output "api" {
  value = module.policies.api
}

output "worker" {
  value = module.policies.worker
}
