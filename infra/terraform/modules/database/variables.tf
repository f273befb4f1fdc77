variable "name" {
  description = "Name prefix (cluster identifier, security group, parameter group)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the DB subnet group (at least two AZs)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Aurora needs subnets in at least two availability zones."
  }
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on the PostgreSQL port, by a static name (e.g. { api = sg-…, worker = sg-… }). Static keys keep the plan valid while the IDs are still unknown."
  type        = map(string)
  default     = {}
}

variable "engine_version" {
  description = "Aurora PostgreSQL version. Serverless v2 scaling to 0 ACU needs 16.3+ (or 15.7+)."
  type        = string
  default     = "16.6"
}

variable "database_name" {
  description = "Database created in the cluster for sluice."
  type        = string
  default     = "sluice"
}

variable "master_username" {
  description = "Master user name. RDS generates the password and keeps it in Secrets Manager; it never passes through Terraform."
  type        = string
  default     = "sluice"
}

variable "min_capacity" {
  description = "Serverless v2 minimum ACUs. 0.5 keeps the cluster warm (about 43 USD/month in us-east-1); 0 lets it pause when idle, and the first connection after a pause waits about 15 s."
  type        = number
  default     = 0.5
}

variable "max_capacity" {
  description = "Serverless v2 maximum ACUs."
  type        = number
  default     = 8
}

variable "instance_count" {
  description = "Cluster instances: 1 is a writer only; 2 or more add readers in other AZs that Aurora promotes on failover (each bills ACUs separately)."
  type        = number
  default     = 2

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 4
    error_message = "instance_count must be between 1 and 4."
  }
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights, the master-user secret and the log group (whose key policy must then allow CloudWatch Logs). Null uses the AWS-managed keys (aws/rds, aws/secretsmanager)."
  type        = string
  default     = null
}

variable "backup_retention_days" {
  description = "Automated backup retention."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster. Turn off (and apply) before terraform destroy."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot when the cluster is deleted (only for throwaway environments)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the cluster's exported PostgreSQL log."
  type        = number
  default     = 30
}

variable "master_password_rotation_days" {
  description = "Days between rotations of the RDS-managed master password. Only the one-off migrate task uses it (read at its start); the services log in with IAM tokens, so a rotation never touches them."
  type        = number
  default     = 30

  validation {
    condition     = var.master_password_rotation_days >= 1 && var.master_password_rotation_days <= 1000
    error_message = "master_password_rotation_days must be between 1 and 1000."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "app_user" {
  description = "Database role of the api and workers, logging in with IAM database authentication."
  type        = string
  default     = "sluice_app"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.app_user))
    error_message = "app_user: a lower-case PostgreSQL identifier."
  }
}

variable "ca_bundle_path" {
  description = "Path of the RDS CA bundle inside the images (sslrootcert)."
  type        = string
  default     = "/etc/ssl/certs/rds-global-bundle.pem"
}
