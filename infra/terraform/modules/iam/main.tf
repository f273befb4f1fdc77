data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region

  ecr_repositories = length(var.ecr_repository_arns) > 0 ? var.ecr_repository_arns : [
    "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/*"
  ]

  # Cross-region inference profiles (us., eu., apac., global., …) are invoked
  # through the profile in the caller's account, and Bedrock then checks the
  # foundation model in every region the profile routes to.
  geo_prefixes = ["us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"]
  bedrock_resources = length(var.bedrock_model_ids) == 0 ? [
    "arn:${local.partition}:bedrock:*::foundation-model/*",
    "arn:${local.partition}:bedrock:*:${local.account}:inference-profile/*",
    "arn:${local.partition}:bedrock:*:${local.account}:application-inference-profile/*",
    ] : distinct(flatten([
      for id in var.bedrock_model_ids : contains(local.geo_prefixes, split(".", id)[0]) ? [
        "arn:${local.partition}:bedrock:*:${local.account}:inference-profile/${id}",
        "arn:${local.partition}:bedrock:*::foundation-model/${join(".", slice(split(".", id), 1, length(split(".", id))))}",
      ] : ["arn:${local.partition}:bedrock:*::foundation-model/${id}"]
  ]))
}

# ECS tasks only, and only from this account's ECS (confused-deputy guard).
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:*"]
    }
  }
}

# --- Execution roles: what ECS itself needs to start a task -----------------

data "aws_iam_policy_document" "execution" {
  for_each = {
    api    = { log_group = var.api_log_group_arn, secrets = [var.database_secret_arn, var.master_key_secret_arn] }
    worker = { log_group = var.worker_log_group_arn, secrets = [var.database_secret_arn] }
  }

  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }

  statement {
    sid       = "EcrPull"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = local.ecr_repositories
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${each.value.log_group}:*"]
  }

  statement {
    sid       = "StartupSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = each.value.secrets
  }

  dynamic "statement" {
    for_each = length(var.secrets_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = var.secrets_kms_key_arns

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each = toset(["api", "worker"])

  name               = "${var.name}-${each.key}-exec"
  description        = "ECS execution role of the sluice ${each.key}: pull the image, write logs, read startup secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  for_each = aws_iam_role.execution

  name   = "ecs-execution"
  role   = each.value.id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# --- api task role: enqueue only ---------------------------------------------

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "Enqueue"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = var.queue_arns
  }

  dynamic "statement" {
    for_each = length(var.queue_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "QueueEncryption"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = var.queue_kms_key_arns

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.name}-api-task"
  description        = "Task role of the sluice api: send jobs to the queues"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "api" {
  name   = "sluice-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

# --- worker task role: drain the queues, call Bedrock -------------------------

data "aws_iam_policy_document" "worker" {
  statement {
    sid = "Drain"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:SendMessage",
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
    ]
    resources = concat(var.queue_arns, var.dlq_arns)
  }

  dynamic "statement" {
    for_each = length(var.queue_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "QueueEncryption"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = var.queue_kms_key_arns

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.bedrock_caller_role_arns) > 0 ? [1] : []

    content {
      sid       = "AssumeBedrockCallers"
      actions   = ["sts:AssumeRole"]
      resources = var.bedrock_caller_role_arns
    }
  }

  dynamic "statement" {
    for_each = var.same_account_bedrock ? [1] : []

    content {
      sid       = "InvokeBedrockHere"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = local.bedrock_resources
    }
  }
}

resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker-task"
  description        = "Task role of the sluice workers: drain the queues, assume the bedrock-caller roles"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "worker" {
  name   = "sluice-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}
