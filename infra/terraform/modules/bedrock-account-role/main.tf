# Applied in each AWS account whose Bedrock quota sluice spends. Creates the
# role the sluice workers assume (with an external id) to call Bedrock there.
# bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream are the IAM
# actions behind Converse and ConverseStream as well.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  geo_prefixes = ["us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"]
  model_resources = length(var.model_ids) == 0 ? [
    "arn:${local.partition}:bedrock:*::foundation-model/*",
    "arn:${local.partition}:bedrock:*:${local.account}:inference-profile/*",
    "arn:${local.partition}:bedrock:*:${local.account}:application-inference-profile/*",
    ] : distinct(flatten([
      for id in var.model_ids : contains(local.geo_prefixes, split(".", id)[0]) ? [
        # A cross-region profile is invoked in this account; Bedrock then
        # checks the model in each region the profile routes to.
        "arn:${local.partition}:bedrock:*:${local.account}:inference-profile/${id}",
        "arn:${local.partition}:bedrock:*::foundation-model/${join(".", slice(split(".", id), 1, length(split(".", id))))}",
      ] : ["arn:${local.partition}:bedrock:*::foundation-model/${id}"]
  ]))
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
  statement {
    sid       = "InvokeModels"
    actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    resources = local.model_resources
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
