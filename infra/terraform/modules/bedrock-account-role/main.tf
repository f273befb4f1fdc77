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

  # Models named directly are invoked in this account's region. A
  # cross-region inference profile (us., eu., …) is invoked in this account,
  # and Bedrock then checks the foundation model in each region the profile
  # routes to: those are allowed only through the profile
  # (bedrock:InferenceProfileArn), never directly in another region.
  geo_prefixes = ["us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"]
  profile_ids  = [for id in var.model_ids : id if contains(local.geo_prefixes, split(".", id)[0])]
  direct_ids   = [for id in var.model_ids : id if !contains(local.geo_prefixes, split(".", id)[0])]
  profile_arns = length(var.model_ids) == 0 ? [
    "arn:${local.partition}:bedrock:*:${local.account}:inference-profile/*",
    "arn:${local.partition}:bedrock:*:${local.account}:application-inference-profile/*",
    ] : [
    for id in local.profile_ids : "arn:${local.partition}:bedrock:*:${local.account}:inference-profile/${id}"
  ]
  profile_models = length(var.model_ids) == 0 ? ["arn:${local.partition}:bedrock:*::foundation-model/*"] : distinct([
    for id in local.profile_ids : "arn:${local.partition}:bedrock:*::foundation-model/${join(".", slice(split(".", id), 1, length(split(".", id))))}"
  ])
  direct_models = length(var.model_ids) == 0 ? ["arn:${local.partition}:bedrock:${local.region}::foundation-model/*"] : [
    for id in local.direct_ids : "arn:${local.partition}:bedrock:${local.region}::foundation-model/${id}"
  ]
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
    for_each = length(local.direct_models) > 0 ? [1] : []

    content {
      sid       = "InvokeModelsHere"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = local.direct_models
    }
  }

  dynamic "statement" {
    for_each = length(local.profile_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeInferenceProfiles"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = local.profile_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.profile_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeModelsThroughProfiles"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = local.profile_models

      condition {
        test     = "StringLike"
        variable = "bedrock:InferenceProfileArn"
        values   = local.profile_arns
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
