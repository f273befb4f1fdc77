variable "queue_prefix" {
  description = "Prefix of every queue name; must equal SLUICE_QUEUE_PREFIX of the api and workers."
  type        = string
  default     = "sluice"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,20}$", var.queue_prefix))
    error_message = "queue_prefix: 1-20 letters, digits, '-' or '_'."
  }
}

variable "model_aliases" {
  description = "Model aliases of the sluice configuration (the keys of models:). Each gets an interactive and a batch queue, each with a dead-letter queue."
  type        = set(string)

  validation {
    condition     = length(var.model_aliases) > 0 && alltrue([for a in var.model_aliases : can(regex("^[A-Za-z0-9_.-]{1,48}$", a))])
    error_message = "model_aliases: at least one, each 1-48 letters, digits, '.', '_' or '-' (the binaries' own rule)."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received token stays invisible. Workers delete a token as soon as they have claimed a job with it, so this only bounds how long a lost token (its worker died mid-receive) stays away; job leases, not visibility, protect running calls."
  type        = number
  default     = 30

  validation {
    condition     = var.visibility_timeout_seconds >= 30 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 30 and 43200."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the queues and dead-letter queues (14 days, SQS's maximum, by default)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "max_receive_count" {
  description = "Receives after which SQS moves a message to its dead-letter queue. Keep it high: a worker that is throttled puts the message back, which counts as a receive, and healthy jobs must not end up in the DLQ because an account was busy."
  type        = number
  default     = 100

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long-polling wait applied when a receive call does not set its own."
  type        = number
  default     = 20
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for SSE-KMS. Null uses SQS-managed encryption (SSE-SQS), which costs nothing and needs no key permissions."
  type        = string
  default     = null
}

variable "kms_data_key_reuse_period_seconds" {
  description = "With SSE-KMS: how long SQS reuses a data key before calling KMS again (fewer KMS requests, lower cost)."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags added to every queue."
  type        = map(string)
  default     = {}
}
