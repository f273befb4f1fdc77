# Applied in each AWS account whose Bedrock quota sluice spends. Creates the
# role the sluice workers assume (with an external id) to call Bedrock there.
# bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream are the IAM
# actions behind Converse and ConverseStream as well.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
}

module "models" {
  source = "../bedrock-models"

  partition  = local.partition
  region     = local.region
  account_id = local.account
  model_ids  = var.model_ids
}

# Trust the broker account, narrowed to the worker role(s) by principal ARN and
# to callers that know the external id. Trusting the account root with an
# aws:PrincipalArn condition (instead of naming the role as principal) lets this
# role exist before the worker role does, and keeps working if the worker role
# is ever re-created.
data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "SluiceWorkers"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${var.broker_account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = var.worker_role_arns
    }
  }
}

data "aws_iam_policy_document" "invoke" {
  dynamic "statement" {
    for_each = length(module.models.direct_models) > 0 ? [1] : []

    content {
      sid       = "InvokeModelsHere"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = module.models.direct_models
    }
  }

  dynamic "statement" {
    for_each = length(module.models.profiles) > 0 ? [1] : []

    content {
      sid       = "InvokeInferenceProfiles"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = module.models.profiles
    }
  }

  dynamic "statement" {
    for_each = length(module.models.profiles) > 0 ? [1] : []

    content {
      sid       = "InvokeModelsThroughProfiles"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = module.models.profile_models

      condition {
        test     = "StringLike"
        variable = "bedrock:InferenceProfileArn"
        values   = module.models.profiles
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  path                 = var.role_path
  description          = "Called by sluice workers in account ${var.broker_account_id} to invoke Bedrock models"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  tags                 = var.tags
}

resource "aws_iam_role_policy" "invoke" {
  name   = "bedrock-invoke"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.invoke.json
}
