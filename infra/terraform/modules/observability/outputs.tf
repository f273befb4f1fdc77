output "api_log_group_name" {
  description = "Log group of the api."
  value       = aws_cloudwatch_log_group.this["api"].name
}

output "api_log_group_arn" {
  description = "ARN of the api's log group."
  value       = aws_cloudwatch_log_group.this["api"].arn
}

output "worker_log_group_name" {
  description = "Log group of the workers (one stream prefix per account)."
  value       = aws_cloudwatch_log_group.this["worker"].name
}

output "worker_log_group_arn" {
  description = "ARN of the workers' log group."
  value       = aws_cloudwatch_log_group.this["worker"].arn
}

output "alarm_arns" {
  description = "All alarms, by name."
  value = merge(
    { for a in aws_cloudwatch_metric_alarm.dlq_not_empty : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.queue_age : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.api_5xx : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.api_unhealthy : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.database_capacity : a.alarm_name => a.arn },
  )
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the deployment."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
