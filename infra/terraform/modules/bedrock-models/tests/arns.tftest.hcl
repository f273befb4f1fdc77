# Which Bedrock ARNs a role gets: no provider, plain plans.

variables {
  partition  = "aws"
  region     = "eu-west-1"
  account_id = "123456789012"
}

run "named_models" {
  command = plan

  variables {
    model_ids = ["eu.anthropic.claude-sonnet-4-20250514-v1:0", "amazon.nova-lite-v1:0"]
  }

  assert {
    condition     = jsonencode(output.direct_models) == jsonencode(["arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0"])
    error_message = "a model named directly is invoked in the region only"
  }

  assert {
    condition     = jsonencode(output.profiles) == jsonencode(["arn:aws:bedrock:*:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0"])
    error_message = "the profile is invoked in this account"
  }

  assert {
    condition     = jsonencode(output.profile_models) == jsonencode(["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"])
    error_message = "the profile's model, in any region (granted only through the profile)"
  }
}

run "every_model" {
  command = plan

  assert {
    condition     = jsonencode(output.direct_models) == jsonencode(["arn:aws:bedrock:eu-west-1::foundation-model/*"]) && jsonencode(output.profile_models) == jsonencode(["arn:aws:bedrock:*::foundation-model/*"])
    error_message = "without a list: any model directly in the region, any region only through a profile"
  }
}
