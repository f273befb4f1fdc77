variable "name" {
  description = "Name prefix of log groups and alarms."
  type        = string
}

variable "queues" {
  description = "The queues output of the queues module: by \"<alias>/<priority>\", objects with at least alias, priority, name and dlq_name."
  type = map(object({
    alias    = string
    priority = string
    name     = string
    dlq_name = string
  }))
}

variable "log_retention_days" {
  description = "Retention of the api and worker log groups."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key for the log groups (its key policy must allow logs.<region>.amazonaws.com). Null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires and when it recovers (e.g. an SNS topic)."
  type        = list(string)
  default     = []
}

variable "queue_age_thresholds" {
  description = "Age of the oldest message, in seconds, above which a queue alarms, by priority. Batch work is expected to wait."
  type = object({
    interactive = number
    batch       = number
  })
  default = {
    interactive = 300
    batch       = 21600
  }
}

variable "queue_age_evaluation_minutes" {
  description = "Minutes the age must stay above the threshold before the alarm fires."
  type        = number
  default     = 5
}

variable "api_load_balancer" {
  description = "The api's ALB, for 5xx and unhealthy-target alarms: arn_suffix of the load balancer and of the target group. Null skips these alarms."
  type = object({
    arn_suffix              = string
    target_group_arn_suffix = string
  })
  default = null
}

variable "database" {
  description = "The Aurora cluster, for an alarm when it runs near its maximum capacity. Null skips it."
  type = object({
    cluster_id = string
  })
  default = null
}

variable "metrics_namespace" {
  description = "Namespace of the workers' EMF metrics and of the log-derived metrics (the services module's metrics_namespace output)."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster (Container Insights dimension)."
  type        = string
}

variable "api_service_name" {
  description = "ECS service of the api."
  type        = string
}

variable "workers" {
  description = "The worker services by account: ECS service name, the model aliases it serves, and its task bounds."
  type = map(object({
    service_name  = string
    model_aliases = list(string)
    min_count     = number
    max_count     = number
  }))
  default = {}
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
