output "queues" {
  description = "Work queues by \"<alias>/<priority>\": alias, priority, name, arn, url, and the dead-letter queue's name, arn and url."
  value = {
    for k, q in local.queues : k => {
      alias    = q.alias
      priority = q.priority
      name     = aws_sqs_queue.this[k].name
      arn      = aws_sqs_queue.this[k].arn
      url      = aws_sqs_queue.this[k].url
      dlq_name = aws_sqs_queue.dlq[k].name
      dlq_arn  = aws_sqs_queue.dlq[k].arn
      dlq_url  = aws_sqs_queue.dlq[k].url
    }
  }
}

output "queue_arns" {
  description = "ARNs of the work queues."
  value       = [for q in aws_sqs_queue.this : q.arn]
}

output "dlq_arns" {
  description = "ARNs of the dead-letter queues."
  value       = [for q in aws_sqs_queue.dlq : q.arn]
}

output "queue_prefix" {
  description = "The queue prefix, for SLUICE_QUEUE_PREFIX."
  value       = var.queue_prefix
}
