output "api_url" {
  description = "Base URL of the api inside the VPC (OpenAI clients use <api_url>/v1)."
  value       = module.services.api_url
}

output "worker_task_role_arn" {
  description = "Give this to every Bedrock account: the bedrock-caller role trusts it (examples/bedrock-account, worker_role_arn)."
  value       = module.iam.worker_task_role_arn
}

output "broker_account_id" {
  description = "This account's id (broker_account_id of examples/bedrock-account)."
  value       = local.account
}

output "ecr_repositories" {
  description = "Repository URLs to push the api and worker images to."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "master_key_secret_arn" {
  description = "Set the api's master key here before the api can start: aws secretsmanager put-secret-value --secret-id <arn> --secret-string <key>."
  value       = aws_secretsmanager_secret.master_key.arn
}

output "database_endpoint" {
  description = "Aurora writer endpoint."
  value       = module.database.endpoint
}

output "database_secret_arn" {
  description = "RDS-managed secret with the database master credentials."
  value       = module.database.master_user_secret_arn
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.services.cluster_name
}

output "services" {
  description = "ECS services: the api and one worker service per account."
  value       = merge({ api = module.services.api_service_name }, module.services.worker_service_names)
}

output "queues" {
  description = "Queue names by \"<alias>/<priority>\"."
  value       = { for k, q in module.queues.queues : k => { queue = q.name, dlq = q.dlq_name } }
}

output "nat_public_ips" {
  description = "Egress IPs (for allow-lists of webhook receivers)."
  value       = module.network.nat_public_ips
}

output "alarm_topic_arn" {
  description = "SNS topic of all alarms."
  value       = aws_sns_topic.alarms.arn
}

output "sluice_config_yaml" {
  description = "The configuration the tasks run with."
  value       = local.sluice_config
}

output "migrate_command" {
  description = "Runs the one-off migrate task; run it with each new image before the services update (docs/deploy.md)."
  value       = module.services.migrate_command
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.observability.dashboard_name
}
