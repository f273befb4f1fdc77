variable "region" {
  description = "Any region: IAM is global, this only picks the API endpoint."
  type        = string
  default     = "us-east-1"
}

variable "deploy_role_arn" {
  description = "Role in the Bedrock account to apply through (null: use the current credentials)."
  type        = string
  default     = null
}

variable "broker_account_id" {
  description = "Account where sluice runs (output broker_account_id of examples/complete)."
  type        = string
}

variable "worker_role_arn" {
  description = "Worker task role of the sluice deployment (output worker_task_role_arn of examples/complete)."
  type        = string
}

variable "external_id" {
  description = "This account's external_id in the sluice deployment's accounts variable."
  type        = string
  sensitive   = true
}

variable "model_ids" {
  description = "Model and inference-profile ids the role may invoke; empty allows all."
  type        = list(string)
  default     = []
}
