output "api_task_role_arn" {
  description = "Task role of the api."
  value       = aws_iam_role.api.arn
}

output "worker_task_role_arn" {
  description = "Task role of the workers: the principal every bedrock-caller role must trust."
  value       = aws_iam_role.worker.arn
}

output "api_execution_role_arn" {
  description = "ECS execution role of the api tasks."
  value       = aws_iam_role.execution["api"].arn
}

output "worker_execution_role_arn" {
  description = "ECS execution role of the worker tasks."
  value       = aws_iam_role.execution["worker"].arn
}
