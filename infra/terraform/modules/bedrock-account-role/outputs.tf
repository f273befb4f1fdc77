output "role_arn" {
  description = "ARN of the role: this account's role_arn in the sluice configuration."
  value       = aws_iam_role.this.arn
}

output "account_id" {
  description = "The Bedrock account the role lives in."
  value       = local.account
}
