variable "name" {
  description = "Name prefix of the cluster, services, load balancer and security groups."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the services."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks and the internal load balancer."
  type        = list(string)
}

variable "container_insights" {
  description = "ECS Container Insights for the cluster: \"enhanced\", \"enabled\" or \"disabled\" (it bills CloudWatch metrics per task)."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enhanced", "enabled", "disabled"], var.container_insights)
    error_message = "container_insights must be enhanced, enabled or disabled."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks: X86_64, or ARM64 (Graviton, about 20% cheaper; build the images for linux/arm64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

# --- configuration shared by api and workers ---------------------------------

variable "config_yaml" {
  description = "The sluice configuration (models and accounts) as YAML; passed as SLUICE_CONFIG_YAML to every task."
  type        = string
}

variable "queue_prefix" {
  description = "SLUICE_QUEUE_PREFIX: prefix of the queues the queues module created."
  type        = string
}

variable "database_url" {
  description = "DATABASE_URL without credentials (postgres://host:port/db?sslmode=verify-full&sslrootcert=…)."
  type        = string
}

variable "database_app_user" {
  description = "Database role the api and workers log in as, with IAM database authentication (PGUSER). The migrate task creates it."
  type        = string
  default     = "sluice_app"
}

variable "database_secret_arn" {
  description = "Secret with the JSON keys username and password of the master user; only the migrate task gets it (as PGUSER and PGPASSWORD)."
  type        = string
}

variable "database_security_group_id" {
  description = "Security group of the database; the tasks get an egress rule to it."
  type        = string
}

variable "master_key_secret_arn" {
  description = "Secret whose value is SLUICE_MASTER_KEY (api only)."
  type        = string
}

variable "environment" {
  description = "Extra environment for every container (e.g. SLUICE_LOG_LEVEL = \"debug\"). Nothing secret: use extra_secrets."
  type        = map(string)
  default     = {}
}

variable "extra_secrets" {
  description = "Further secrets for the api and worker containers, by environment variable name, as Secrets Manager ARNs (optionally with :json-key:: suffixes), e.g. SLUICE_WEBHOOK_SECRET. The execution roles may read exactly these."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.extra_secrets : can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:", v)) && can(regex("^[A-Z_][A-Z0-9_]*$", k))])
    error_message = "extra_secrets: environment names (A-Z, 0-9, _) to Secrets Manager secret ARNs."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the workers' EMF metrics; null: Sluice/<name>."
  type        = string
  default     = null
}

variable "wait_for_steady_state" {
  description = "Whether apply waits until the services are stable (and fails when a deployment does)."
  type        = bool
  default     = true
}

variable "prerequisite_ids" {
  description = "Ids of resources other modules create that the tasks need before they start (e.g. the database's ingress rules); the services wait for them."
  type        = list(string)
  default     = []
}

variable "migrate_execution_role_arn" {
  description = "Execution role of the one-off migrate task (pull the image, write logs, read the master-user secret)."
  type        = string
}

variable "allow_http_egress" {
  description = "Allow workers to reach port 80 anywhere (webhook receivers on plain HTTP). HTTPS (443) is always allowed."
  type        = bool
  default     = false
}

# --- api -------------------------------------------------------------------------

variable "api" {
  description = <<-EOT
    The api service: image (full reference, ideally by digest or immutable tag),
    task cpu/memory (Fargate sizes), and autoscaling bounds and CPU target.
  EOT
  type = object({
    image     = string
    cpu       = optional(number, 512)
    memory    = optional(number, 1024)
    min_count = optional(number, 2)
    max_count = optional(number, 6)
    # Target of ALBRequestCountPerTarget (requests per task per minute).
    requests_per_target = optional(number, 1000)
    stop_timeout        = optional(number, 120)
  })

  validation {
    condition     = var.api.min_count >= 1 && var.api.max_count >= var.api.min_count
    error_message = "api: need 1 <= min_count <= max_count."
  }

  validation {
    condition     = var.api.stop_timeout >= 2 && var.api.stop_timeout <= 120
    error_message = "api: stop_timeout is 2-120 s (Fargate's limit)."
  }
}

variable "api_egress" {
  description = "Where the api may send HTTPS. via_endpoints: only to the interface endpoints' security group and the S3 gateway endpoint's prefix list (the VPC must have endpoints for sqs, ecr.api, ecr.dkr, logs and secretsmanager); false: anywhere, through a NAT gateway."
  type = object({
    via_endpoints              = optional(bool, false)
    endpoint_security_group_id = optional(string)
    s3_prefix_list_id          = optional(string)
  })
  default = {}

  validation {
    condition     = !var.api_egress.via_endpoints || (var.api_egress.endpoint_security_group_id != null && var.api_egress.s3_prefix_list_id != null)
    error_message = "api_egress: via_endpoints needs endpoint_security_group_id and s3_prefix_list_id."
  }
}

variable "api_task_role_arn" {
  description = "Task role of the api."
  type        = string
}

variable "api_execution_role_arn" {
  description = "Execution role of the api."
  type        = string
}

variable "api_log_group_name" {
  description = "Log group of the api."
  type        = string
}

variable "api_health_check_path" {
  description = "Path the load balancer probes. /healthz (liveness) by default: a database outage then does not make ECS replace every api task; /readyz also checks the database."
  type        = string
  default     = "/healthz"
}

variable "alb_ingress_cidr_blocks" {
  description = "IPv4 ranges allowed to reach the internal load balancer (clients inside the VPC, peered VPCs, VPN)."
  type        = list(string)
  default     = []
}

variable "alb_ingress_security_group_ids" {
  description = "Security groups allowed to reach the internal load balancer, by a static name."
  type        = map(string)
  default     = {}
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener on 443 (HTTP on 80 then redirects to it). Null serves plain HTTP on 80 inside the VPC."
  type        = string
  default     = null
}

variable "alb_idle_timeout" {
  description = "Seconds the load balancer keeps an idle connection. Synchronous completions wait silently until the job finishes (up to SLUICE_SYNC_TIMEOUT, 10 min by default), so this must be longer than the ALB's 60 s default."
  type        = number
  default     = 900
}

variable "alb_deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = false
}

# --- workers -----------------------------------------------------------------------

variable "worker_image" {
  description = "Image of the workers."
  type        = string
}

variable "worker_task_role_arn" {
  description = "Task role of the workers."
  type        = string
}

variable "worker_execution_role_arn" {
  description = "Execution role of the workers."
  type        = string
}

variable "worker_log_group_name" {
  description = "Log group of the workers."
  type        = string
}

variable "queues" {
  description = "The queues output of the queues module; workers scale on the queues of the models their account serves."
  type = map(object({
    alias    = string
    priority = string
    name     = string
  }))
}

variable "workers" {
  description = <<-EOT
    One ECS service per Bedrock account budget, keyed by the account's name in
    the sluice configuration (SLUICE_ACCOUNTS of that service). Replicas of a
    service share the account's budget through Postgres, so adding replicas adds
    concurrency and availability, never quota: size max_count for the in-flight
    calls the budget allows, not for the backlog.
      model_aliases:    models this account serves (64 call slots each per task)
      spot:             run all but one task on Fargate Spot (interruptions
                        only delay jobs: an unfinished message returns to the queue)
      in_flight_target: average calls in flight per task that autoscaling
                        keeps (default half the task's slots); backlog never
                        adds tasks
      stop_timeout:     seconds ECS waits after SIGTERM (Fargate allows 120)
      drain_timeout:    seconds the worker lets calls finish after SIGTERM
                        before releasing the rest to the queue (SLUICE_DRAIN_TIMEOUT);
                        below stop_timeout
  EOT
  type = map(object({
    model_aliases    = list(string)
    cpu              = optional(number, 512)
    memory           = optional(number, 1024)
    min_count        = optional(number, 1)
    max_count        = optional(number, 4)
    spot             = optional(bool, false)
    in_flight_target = optional(number)
    stop_timeout     = optional(number, 120)
    drain_timeout    = optional(number, 100)
  }))

  validation {
    condition     = length(var.workers) > 0 && alltrue([for w in var.workers : w.min_count >= 0 && w.max_count >= max(w.min_count, 1)])
    error_message = "workers: at least one, each with 0 <= min_count <= max_count and max_count >= 1."
  }

  validation {
    condition     = alltrue([for w in var.workers : length(w.model_aliases) >= 1])
    error_message = "workers: each account serves at least one model alias."
  }

  validation {
    condition     = alltrue([for w in var.workers : w.stop_timeout <= 120 && w.drain_timeout >= 1 && w.drain_timeout + 10 <= w.stop_timeout])
    error_message = "workers: stop_timeout is at most 120 s (Fargate), and drain_timeout must leave at least 10 s of it to release what is left."
  }
}

variable "worker_metrics_ingress_cidr_blocks" {
  description = "Ranges allowed to scrape the workers' /metrics on 9090 (e.g. a Prometheus collector in the VPC). Empty: no inbound traffic at all."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
