output "role_arn" {
  description = "Put this in the sluice deployment's accounts.<name>.role_arn."
  value       = module.bedrock_caller.role_arn
}
