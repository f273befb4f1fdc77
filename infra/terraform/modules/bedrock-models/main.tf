# The Bedrock resources a role may invoke for a list of model and
# inference-profile ids, computed from variables alone (no provider), for the
# bedrock-caller role and for same-account budgets of the worker task role.
#
# A model named directly is invoked in the role's region. A cross-region
# inference profile (us., eu., …) is invoked in the caller's account, and
# Bedrock then checks the foundation model in each region the profile routes
# to: those models are allowed in any region, but only through the profile
# (condition bedrock:InferenceProfileArn), never directly.

locals {
  geo_prefixes = ["us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"]
  profile_ids  = [for id in var.model_ids : id if contains(local.geo_prefixes, split(".", id)[0])]
  direct_ids   = [for id in var.model_ids : id if !contains(local.geo_prefixes, split(".", id)[0])]
  all          = length(var.model_ids) == 0
}

output "direct_models" {
  description = "Foundation-model ARNs invoked directly, in the region only."
  value = local.all ? ["arn:${var.partition}:bedrock:${var.region}::foundation-model/*"] : [
    for id in local.direct_ids : "arn:${var.partition}:bedrock:${var.region}::foundation-model/${id}"
  ]
}

output "profiles" {
  description = "Inference-profile ARNs of the account (any region)."
  value = local.all ? [
    "arn:${var.partition}:bedrock:*:${var.account_id}:inference-profile/*",
    "arn:${var.partition}:bedrock:*:${var.account_id}:application-inference-profile/*",
    ] : [
    for id in local.profile_ids : "arn:${var.partition}:bedrock:*:${var.account_id}:inference-profile/${id}"
  ]
}

output "profile_models" {
  description = "Foundation-model ARNs behind the profiles (any region); grant them only with the bedrock:InferenceProfileArn condition."
  value = local.all ? ["arn:${var.partition}:bedrock:*::foundation-model/*"] : distinct([
    for id in local.profile_ids : "arn:${var.partition}:bedrock:*::foundation-model/${join(".", slice(split(".", id), 1, length(split(".", id))))}"
  ])
}
