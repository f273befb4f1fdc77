variable "name" {
  description = "Name prefix of the roles. The names are fixed (<name>-worker-task, …) so that the worker role's ARN is known before it exists and Bedrock accounts can be set up in any order."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,52}$", var.name))
    error_message = "name: 1-52 characters valid in IAM role names."
  }
}

variable "queue_arns" {
  description = "ARNs of the work queues (interactive and batch)."
  type        = list(string)
}

variable "dlq_arns" {
  description = "ARNs of the dead-letter queues; only workers touch them (they fail the jobs of poison messages)."
  type        = list(string)
}

variable "queue_kms_key_arns" {
  description = "KMS keys the queues are encrypted with (SSE-KMS). Empty when the queues use SSE-SQS."
  type        = list(string)
  default     = []
}

variable "secrets_kms_key_arns" {
  description = "KMS keys that encrypt the secrets the tasks start with. Empty when they use aws/secretsmanager."
  type        = list(string)
  default     = []
}

variable "database_secret_arn" {
  description = "Secret holding the master user's name and password; only the migrate task's execution role may read it."
  type        = string
}

variable "database_connect_arns" {
  description = "rds-db:connect ARNs (arn:…:rds-db:region:account:dbuser:cluster-ID/user) the api and workers log in with (IAM database authentication)."
  type        = list(string)
  default     = []
}

variable "extra_secrets" {
  description = "The services module's extra_secrets (environment name to Secrets Manager ARN); both execution roles may read them."
  type        = map(string)
  default     = {}
}

variable "master_key_secret_arn" {
  description = "Secret holding SLUICE_MASTER_KEY; only the api's execution role may read it."
  type        = string
}

variable "api_log_group_arn" {
  description = "Log group of the api containers."
  type        = string
}

variable "worker_log_group_arn" {
  description = "Log group of the worker containers."
  type        = string
}

variable "ecr_repository_arns" {
  description = "ECR repositories the images are pulled from. Empty allows every repository of this account and region (use when images live elsewhere, e.g. a shared registry account, and adjust)."
  type        = list(string)
  default     = []
}

variable "bedrock_caller_role_arns" {
  description = "The bedrock-caller roles (one per Bedrock account) that workers assume; the external id is checked by each role's trust policy."
  type        = list(string)
  default     = []
}

variable "same_account_bedrock" {
  description = "Whether some account in the sluice configuration has an empty role_arn, i.e. workers call Bedrock in this account with their own task role."
  type        = bool
  default     = false
}

variable "bedrock_model_ids" {
  description = "With same_account_bedrock: the Bedrock model or inference-profile ids workers may invoke (e.g. us.anthropic.claude-sonnet-4-20250514-v1:0). Empty allows every model."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every role."
  type        = map(string)
  default     = {}
}
