variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "region" {
  description = "Region of the queues and of same-account Bedrock calls to models named directly."
  type        = string
}

variable "account_id" {
  description = "Account the tasks run in (owner of same-account inference profiles)."
  type        = string
}

variable "queue_arns" {
  description = "ARNs of the work queues."
  type        = list(string)
}

variable "dlq_arns" {
  description = "ARNs of the dead-letter queues."
  type        = list(string)
}

variable "queue_kms_key_arns" {
  description = "KMS keys the queues are encrypted with; empty for SSE-SQS."
  type        = list(string)
  default     = []
}

variable "bedrock_caller_role_arns" {
  description = "bedrock-caller roles the workers assume."
  type        = list(string)
  default     = []
}

variable "same_account_bedrock" {
  description = "Whether workers also call Bedrock with their own task role."
  type        = bool
  default     = false
}

variable "bedrock_model_ids" {
  description = "With same_account_bedrock: model or inference-profile ids workers may invoke; empty allows every model."
  type        = list(string)
  default     = []
}

variable "database_connect_arns" {
  description = "rds-db:connect ARNs of the application's database user."
  type        = list(string)
  default     = []
}
