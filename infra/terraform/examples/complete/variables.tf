variable "name" {
  description = "Name of this deployment; prefixes every resource (e.g. \"sluice-prod\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name: 2-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "region" {
  description = "Region of the deployment (queues, database, services). Bedrock accounts may call other regions."
  type        = string
}

variable "tags" {
  description = "Tags for every resource (the provider's default_tags)."
  type        = map(string)
  default     = {}
}

# --- what sluice brokers --------------------------------------------------------

variable "models" {
  description = "Model aliases clients send as \"model\" (the models: section of the sluice configuration)."
  type = map(object({
    bedrock_model_id   = string
    default_max_tokens = optional(number)
    max_output_tokens  = optional(number)
    burndown           = optional(number)
  }))

  validation {
    condition     = length(var.models) > 0 && alltrue([for a in keys(var.models) : can(regex("^[A-Za-z0-9_.-]{1,48}$", a))])
    error_message = "models: at least one alias, each 1-48 letters, digits, '.', '_' or '-'."
  }
}

variable "accounts" {
  description = <<-EOT
    Bedrock accounts whose quota sluice spends, by name (the accounts: section of
    the sluice configuration; each becomes one worker service).
      region:      region the workers call Bedrock in for this account
      role_arn:    the bedrock-caller role in that account ("" = the worker task
                   role calls Bedrock in this deployment's own account)
      external_id: what the bedrock-caller role's trust policy requires
      models:      per model alias, the budget: tpm (tokens/min), rpm, tpd (0 = none)
      worker:      sizing and autoscaling of the account's worker service
  EOT
  type = map(object({
    region      = string
    role_arn    = string
    external_id = optional(string, "")
    models = map(object({
      tpm = number
      rpm = optional(number, 0)
      tpd = optional(number, 0)
    }))
    worker = optional(object({
      cpu              = optional(number, 512)
      memory           = optional(number, 1024)
      min_count        = optional(number, 1)
      max_count        = optional(number, 4)
      spot             = optional(bool, false)
      in_flight_target = optional(number)
      stop_timeout     = optional(number, 120)
      drain_timeout    = optional(number, 100)
    }), {})
  }))

  validation {
    condition     = length(var.accounts) > 0 && alltrue([for n in keys(var.accounts) : can(regex("^[a-z0-9][a-z0-9-]{0,30}$", n))])
    error_message = "accounts: at least one, named with 1-31 lowercase letters, digits or '-' (the name appears in ECS service names)."
  }

  validation {
    condition     = alltrue(flatten([for a in var.accounts : [for m in keys(a.models) : contains(keys(var.models), m)]]))
    error_message = "accounts: every model an account budgets must be an alias in models."
  }

  validation {
    condition     = alltrue([for a in var.accounts : a.worker.stop_timeout <= 120 && a.worker.drain_timeout >= 1 && a.worker.drain_timeout + 10 <= a.worker.stop_timeout])
    error_message = "accounts: worker.stop_timeout is at most 120 s (Fargate), and worker.drain_timeout must leave at least 10 s of it to release unfinished calls to the queue."
  }

  validation {
    condition     = alltrue([for a in var.accounts : a.role_arn == "" || (length(a.external_id) >= 2 && length(a.external_id) <= 1224 && can(regex("^[A-Za-z0-9+=,.@:/_-]+$", a.external_id)))])
    error_message = "accounts: an account with a role_arn needs an external_id (2-1224 letters, digits or +=,.@:/_-)."
  }
}

variable "queue_prefix" {
  description = "SLUICE_QUEUE_PREFIX: prefix of the queue names."
  type        = string
  default     = "sluice"
}

variable "max_receive_count" {
  description = "Receives before a message goes to its dead-letter queue (high on purpose: throttled work is received again)."
  type        = number
  default     = 100
}

variable "environment" {
  description = "Extra environment for the api and worker containers (SLUICE_LOG_LEVEL, SLUICE_SYNC_TIMEOUT, …). Nothing secret: see extra_secrets."
  type        = map(string)
  default     = {}
}

variable "extra_secrets" {
  description = "Secrets for the api and worker containers by environment name, as Secrets Manager ARNs (e.g. SLUICE_WEBHOOK_SECRET)."
  type        = map(string)
  default     = {}
}

# --- images ----------------------------------------------------------------------

variable "image_tag" {
  description = "Tag of the api and worker images in this deployment's ECR repositories (immutable: use a version or commit id)."
  type        = string
}

variable "api_image" {
  description = "Full api image reference, overriding the ECR repository and image_tag."
  type        = string
  default     = null
}

variable "worker_image" {
  description = "Full worker image reference, overriding the ECR repository and image_tag."
  type        = string
  default     = null
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64; the images must be built for it."
  type        = string
  default     = "X86_64"
}

# --- network ---------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to use (2-4)."
  type        = number
  default     = 2
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway instead of one per AZ."
  type        = bool
  default     = true
}

# --- api ---------------------------------------------------------------------------

variable "api" {
  description = "Sizing and autoscaling of the api service."
  type = object({
    cpu                 = optional(number, 512)
    memory              = optional(number, 1024)
    min_count           = optional(number, 2)
    max_count           = optional(number, 6)
    requests_per_target = optional(number, 1000)
  })
  default = {}
}

variable "alb_ingress_cidr_blocks" {
  description = "Ranges allowed to call the internal load balancer. Null means the VPC's own CIDR."
  type        = list(string)
  default     = null
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on the load balancer. Null serves HTTP inside the VPC."
  type        = string
  default     = null
}

# --- database --------------------------------------------------------------------

variable "database" {
  description = "Aurora Serverless v2 settings."
  type = object({
    engine_version        = optional(string, "16.6")
    min_capacity          = optional(number, 0.5)
    max_capacity          = optional(number, 8)
    instance_count        = optional(number, 2)
    backup_retention_days = optional(number, 7)
    deletion_protection   = optional(bool, true)
    skip_final_snapshot   = optional(bool, false)
  })
  default = {}
}

# --- operations ------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the api and worker logs."
  type        = number
  default     = 30
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (confirm the subscription mail). Null: no subscription."
  type        = string
  default     = null
}
