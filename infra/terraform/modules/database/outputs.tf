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
  description = "DATABASE_URL without credentials. The tasks get PGUSER and PGPASSWORD from the master-user secret; pgx fills them in."
  value       = "postgres://${aws_rds_cluster.this.endpoint}:${aws_rds_cluster.this.port}/${aws_rds_cluster.this.database_name}?sslmode=require"
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (JSON with username and password) that RDS manages for the master user."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.this.id
}
