# Applied once in each AWS account whose Bedrock quota sluice spends.

module "bedrock_caller" {
  source = "../../modules/bedrock-account-role"

  broker_account_id = var.broker_account_id
  worker_role_arns  = [var.worker_role_arn]
  external_id       = var.external_id
  model_ids         = var.model_ids
}
