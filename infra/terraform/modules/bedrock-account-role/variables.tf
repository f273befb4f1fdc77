variable "role_name" {
  description = "Name of the role; the role_arn of this account in the sluice configuration points at it."
  type        = string
  default     = "bedrock-caller"
}

variable "role_path" {
  description = "IAM path of the role."
  type        = string
  default     = "/"
}

variable "broker_account_id" {
  description = "AWS account id where sluice runs (the account of the worker task role)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.broker_account_id))
    error_message = "broker_account_id must be a 12-digit account id."
  }
}

variable "worker_role_arns" {
  description = "Worker task role ARN(s) allowed to assume this role (output worker_task_role_arn of the sluice deployment). Matched with aws:PrincipalArn, so this role can be created before the worker role exists and survives its re-creation."
  type        = list(string)

  validation {
    condition     = length(var.worker_role_arns) > 0 && alltrue([for a in var.worker_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "worker_role_arns: at least one IAM role ARN."
  }
}

variable "external_id" {
  description = "External id the workers must present (the account's external_id in the sluice configuration). Guards against the confused-deputy problem; not a password, but do not reuse it across deployments."
  type        = string

  validation {
    condition     = length(var.external_id) >= 2 && length(var.external_id) <= 1224 && can(regex("^[A-Za-z0-9+=,.@:/_-]+$", var.external_id))
    error_message = "external_id: 2-1224 characters of letters, digits and +=,.@:/_-."
  }
}

variable "model_ids" {
  description = "Bedrock model or inference-profile ids the role may invoke (e.g. us.anthropic.claude-sonnet-4-20250514-v1:0, amazon.nova-lite-v1:0). Empty allows every model and inference profile of the account."
  type        = list(string)
  default     = []
}

variable "max_session_duration" {
  description = "Maximum session length in seconds. The workers refresh credentials before they expire; one hour is plenty."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags added to the role."
  type        = map(string)
  default     = {}
}
