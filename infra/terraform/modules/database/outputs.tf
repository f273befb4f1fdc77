output "cluster_id" {
  description = "Cluster identifier (the CloudWatch DBClusterIdentifier dimension)."
  value       = aws_rds_cluster.this.id
}

output "cluster_arn" {
  description = "Cluster ARN."
  value       = aws_rds_cluster.this.arn
}

output "endpoint" {
  description = "Writer endpoint."
  value       = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  description = "Reader endpoint."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_rds_cluster.this.port
}

output "database_name" {
  description = "Database for sluice."
  value       = aws_rds_cluster.this.database_name
}

output "database_url" {
  description = "DATABASE_URL without credentials, verifying the server certificate and name against the RDS CA bundle in the image. The services add PGUSER and an IAM token; the migrate task the master user's secret."
  value       = "postgres://${aws_rds_cluster.this.endpoint}:${aws_rds_cluster.this.port}/${aws_rds_cluster.this.database_name}?sslmode=verify-full&sslrootcert=${var.ca_bundle_path}"
}

output "app_user" {
  description = "The database role the services log in as (created by the migrate task)."
  value       = var.app_user
}

output "app_user_connect_arn" {
  description = "rds-db:connect resource of the application role, for the task roles."
  value       = "arn:${data.aws_partition.current.partition}:rds-db:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:dbuser:${aws_rds_cluster.this.cluster_resource_id}/${var.app_user}"
}

output "client_rule_ids" {
  description = "Ingress rules of the database's security group; the services wait for them."
  value       = [for r in aws_vpc_security_group_ingress_rule.clients : r.id]
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (JSON with username and password) that RDS manages for the master user."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.this.id
}
