output "api" {
  description = "Permission policy of the api task role (JSON)."
  value       = jsonencode(local.api)
}

output "worker" {
  description = "Permission policy of the worker task role (JSON)."
  value       = jsonencode(local.worker)
}
