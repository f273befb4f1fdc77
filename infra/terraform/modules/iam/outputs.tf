output "api_task_role_arn" {
  description = "Task role of the api."
  value       = aws_iam_role.api.arn
  # Services that take this ARN must not start before the role can act.
  depends_on = [aws_iam_role_policy.api]
}

output "worker_task_role_arn" {
  description = "Task role of the workers: the principal every bedrock-caller role must trust."
  value       = aws_iam_role.worker.arn
  depends_on  = [aws_iam_role_policy.worker]
}

output "api_execution_role_arn" {
  description = "ECS execution role of the api tasks."
  value       = aws_iam_role.execution["api"].arn
  depends_on  = [aws_iam_role_policy.execution]
}

output "migrate_execution_role_arn" {
  description = "ECS execution role of the one-off migrate task."
  value       = aws_iam_role.execution["migrate"].arn
  depends_on  = [aws_iam_role_policy.execution]
}

output "worker_execution_role_arn" {
  description = "ECS execution role of the worker tasks."
  value       = aws_iam_role.execution["worker"].arn
  depends_on  = [aws_iam_role_policy.execution]
}

output "api_task_policy" {
  description = "Permission policy of the api task role (JSON)."
  value       = module.task_policies.api
}

output "worker_task_policy" {
  description = "Permission policy of the worker task role (JSON)."
  value       = module.task_policies.worker
}
