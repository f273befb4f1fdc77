# The task roles' permission policies, as JSON, computed from variables alone:
# no provider, no data sources. The iam module attaches exactly these
# documents, and scripts/check-infra renders them with the same module
# (infra/tests/iam) and loads them into moto's IAM with enforcement on, so
# the api and worker are run end to end under precisely what is deployed.
#
# What each process calls (internal/queue, internal/worker, internal/bedrock):
#   api     GetQueueUrl on every queue and DLQ (resolved at start),
#           SendMessage (and SendMessageBatch) on the work queues.
#   worker  GetQueueUrl on every queue and DLQ; ReceiveMessage, DeleteMessage
#           (and DeleteMessageBatch), ChangeMessageVisibility (tokens not yet
#           due), SendMessage (new tokens for released and requeued jobs, the
#           janitor's resends) and GetQueueAttributes (the janitor reads each
#           queue's creation time to notice a queue lost and recreated) on the
#           work queues; ReceiveMessage and DeleteMessage on the DLQs (the
#           janitor renews dead-lettered tokens); sts:AssumeRole on the
#           bedrock-caller roles; Bedrock itself for same-account budgets.

locals {
  # Statements are built as JSON strings so that conditional lists of
  # differently shaped objects unify; the documents decode them again.
  kms_statement = length(var.queue_kms_key_arns) == 0 ? [] : [jsonencode({
    Sid       = "QueueEncryption"
    Effect    = "Allow"
    Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
    Resource  = var.queue_kms_key_arns
    Condition = { StringEquals = { "kms:ViaService" = "sqs.${var.region}.amazonaws.com" } }
  })]

  # IAM database authentication: a token per connection (internal/dbauth).
  # Not exercised by the moto check (moto has no RDS IAM auth); the plan test
  # asserts it.
  db_statement = length(var.database_connect_arns) == 0 ? [] : [jsonencode({
    Sid      = "DatabaseLogin"
    Effect   = "Allow"
    Action   = ["rds-db:connect"]
    Resource = var.database_connect_arns
  })]

  api = {
    Version = "2012-10-17"
    Statement = [for s in concat([
      jsonencode({
        Sid      = "ResolveQueues"
        Effect   = "Allow"
        Action   = ["sqs:GetQueueUrl"]
        Resource = concat(var.queue_arns, var.dlq_arns)
      }),
      jsonencode({
        Sid      = "Enqueue"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = var.queue_arns
      }),
    ], local.kms_statement, local.db_statement) : jsondecode(s)]
  }

  # Same-account Bedrock (see modules/bedrock-models).
  direct_models  = module.models.direct_models
  profile_arns   = module.models.profiles
  profile_models = module.models.profile_models
  invoke         = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]

  bedrock_statements = !var.same_account_bedrock ? [] : concat(
    length(local.direct_models) == 0 ? [] : [jsonencode({
      Sid      = "InvokeModelsHere"
      Effect   = "Allow"
      Action   = local.invoke
      Resource = local.direct_models
    })],
    length(local.profile_arns) == 0 ? [] : [
      jsonencode({
        Sid      = "InvokeInferenceProfiles"
        Effect   = "Allow"
        Action   = local.invoke
        Resource = local.profile_arns
      }),
      jsonencode({
        Sid       = "InvokeModelsThroughProfiles"
        Effect    = "Allow"
        Action    = local.invoke
        Resource  = local.profile_models
        Condition = { StringLike = { "bedrock:InferenceProfileArn" = local.profile_arns } }
      }),
    ],
  )

  worker = {
    Version = "2012-10-17"
    Statement = [for s in concat([
      jsonencode({
        Sid      = "ResolveQueues"
        Effect   = "Allow"
        Action   = ["sqs:GetQueueUrl"]
        Resource = concat(var.queue_arns, var.dlq_arns)
      }),
      jsonencode({
        Sid      = "Drain"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage", "sqs:GetQueueAttributes"]
        Resource = var.queue_arns
      }),
      jsonencode({
        Sid      = "FailDeadLetters"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
        Resource = var.dlq_arns
      }),
      ], local.kms_statement, local.db_statement,
      length(var.bedrock_caller_role_arns) == 0 ? [] : [jsonencode({
        Sid      = "AssumeBedrockCallers"
        Effect   = "Allow"
        Action   = ["sts:AssumeRole"]
        Resource = var.bedrock_caller_role_arns
      })],
      local.bedrock_statements,
    ) : jsondecode(s)]
  }
}

module "models" {
  source = "../../bedrock-models"

  partition  = var.partition
  region     = var.region
  account_id = var.account_id
  model_ids  = var.bedrock_model_ids
}
