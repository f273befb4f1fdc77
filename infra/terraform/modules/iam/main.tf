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

  # A valueFrom may name a JSON key (arn…:secret:name-AbCdEf:key::); IAM
  # wants the secret's own ARN, its first seven fields.
  extra_secret_arns = distinct([for v in values(var.extra_secrets) : join(":", slice(split(":", v), 0, 7))])
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
  # The services log in to the database with IAM authentication; only the
  # migrate task reads the master-user secret.
  for_each = {
    api     = { log_group = var.api_log_group_arn, secrets = concat([var.master_key_secret_arn], local.extra_secret_arns) }
    worker  = { log_group = var.worker_log_group_arn, secrets = local.extra_secret_arns }
    migrate = { log_group = var.api_log_group_arn, secrets = [var.database_secret_arn] }
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

  dynamic "statement" {
    for_each = length(each.value.secrets) > 0 ? [1] : []

    content {
      sid       = "StartupSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = each.value.secrets
    }
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
  for_each = toset(["api", "worker", "migrate"])

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

# --- task roles: what the processes call (see task-policies) -----------------

module "task_policies" {
  source = "./task-policies"

  partition                = local.partition
  region                   = local.region
  account_id               = local.account
  queue_arns               = var.queue_arns
  dlq_arns                 = var.dlq_arns
  queue_kms_key_arns       = var.queue_kms_key_arns
  bedrock_caller_role_arns = var.bedrock_caller_role_arns
  same_account_bedrock     = var.same_account_bedrock
  bedrock_model_ids        = var.bedrock_model_ids
  database_connect_arns    = var.database_connect_arns
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
  policy = module.task_policies.api
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
  policy = module.task_policies.worker
}
