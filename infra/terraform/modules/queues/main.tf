locals {
  priorities = ["interactive", "batch"]

  # Same naming as internal/queue.Name in the binaries: SQS names allow
  # letters, digits, '-' and '_', so dots in an alias become '_'.
  queues = {
    for pair in setproduct(sort(tolist(var.model_aliases)), local.priorities) :
    "${pair[0]}/${pair[1]}" => {
      alias    = pair[0]
      priority = pair[1]
      name     = "${var.queue_prefix}-${replace(pair[0], ".", "_")}-${pair[1]}"
    }
  }

  sse_sqs = var.kms_key_arn == null ? true : null
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                              = "${each.value.name}-dlq"
  message_retention_seconds         = var.message_retention_seconds
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  sqs_managed_sse_enabled           = local.sse_sqs
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds

  tags = merge(var.tags, { ModelAlias = each.value.alias, Priority = each.value.priority, Role = "dead-letter" })

  lifecycle {
    precondition {
      condition     = length("${each.value.name}-dlq") <= 80
      error_message = "Queue name ${each.value.name}-dlq is longer than SQS's 80 characters; shorten queue_prefix or the model alias."
    }
  }
}

resource "aws_sqs_queue" "this" {
  for_each = local.queues

  name                              = each.value.name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = var.receive_wait_time_seconds
  sqs_managed_sse_enabled           = local.sse_sqs
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = merge(var.tags, { ModelAlias = each.value.alias, Priority = each.value.priority, Role = "work" })
}

# Only the queue's own source may redrive into a DLQ (set separately to avoid
# a cycle between the two queues).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}

# Refuse any request that is not over TLS.
data "aws_iam_policy_document" "tls_only" {
  for_each = merge(
    { for k, q in aws_sqs_queue.this : "work/${k}" => q.arn },
    { for k, q in aws_sqs_queue.dlq : "dlq/${k}" => q.arn },
  )

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  for_each = local.queues

  queue_url = aws_sqs_queue.this[each.key].id
  policy    = data.aws_iam_policy_document.tls_only["work/${each.key}"].json
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  policy    = data.aws_iam_policy_document.tls_only["dlq/${each.key}"].json
}
