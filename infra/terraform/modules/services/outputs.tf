output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "api_url" {
  description = "Base URL of the api (OpenAI base_url is this plus /v1), reachable from inside the VPC."
  value       = "${local.https ? "https" : "http"}://${aws_lb.api.dns_name}"
}

output "alb_dns_name" {
  description = "DNS name of the internal load balancer (point a private Route 53 record at it)."
  value       = aws_lb.api.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the load balancer, for alias records."
  value       = aws_lb.api.zone_id
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
  value       = aws_lb.api.arn_suffix
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the api target group (CloudWatch dimension)."
  value       = aws_lb_target_group.api.arn_suffix
}

output "api_service_name" {
  description = "ECS service of the api."
  value       = aws_ecs_service.api.name
}

output "worker_service_names" {
  description = "ECS service of each account's workers, by account name."
  value       = { for k, s in aws_ecs_service.worker : k => s.name }
}

output "api_security_group_id" {
  description = "Security group of the api tasks."
  value       = aws_security_group.api.id
}

output "worker_security_group_id" {
  description = "Security group of the worker tasks."
  value       = aws_security_group.worker.id
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.alb.id
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the workers' EMF metrics."
  value       = local.metrics_namespace
}

output "migrate_task_definition_arn" {
  description = "The one-off migrate task: run it (and wait for exit code 0) before the services update; see docs/deploy.md."
  value       = aws_ecs_task_definition.migrate.arn
}

output "migrate_command" {
  description = "aws ecs run-task for the migrate task on the api's network."
  value = join(" ", [
    "aws ecs run-task --cluster ${aws_ecs_cluster.this.name} --launch-type FARGATE",
    "--task-definition ${aws_ecs_task_definition.migrate.arn}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${aws_security_group.api.id}],assignPublicIp=DISABLED}'",
  ])
}

output "container_definitions" {
  description = "Container definitions (JSON) by task family suffix: api, migrate, worker-<account>."
  value = merge(
    { api = aws_ecs_task_definition.api.container_definitions, migrate = aws_ecs_task_definition.migrate.container_definitions },
    { for k, t in aws_ecs_task_definition.worker : "worker-${k}" => t.container_definitions },
  )
}
