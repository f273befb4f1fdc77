terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }

  # One state per Bedrock account, e.g. key = "sluice/bedrock-caller/<account>.tfstate".
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

# Run with credentials of the Bedrock account, or from a central pipeline
# through a role in that account (deploy_role_arn).
provider "aws" {
  region = var.region

  dynamic "assume_role" {
    for_each = var.deploy_role_arn == null ? [] : [var.deploy_role_arn]

    content {
      role_arn     = assume_role.value
      session_name = "sluice-bedrock-account"
    }
  }

  default_tags {
    tags = {
      Application = "sluice"
      ManagedBy   = "terraform"
    }
  }
}
