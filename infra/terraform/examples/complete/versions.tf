terraform {
  # 1.9+: variable validations that refer to other variables.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }

  # Keep state in S3 with native locking; fill in with -backend-config or edit:
  #   terraform init -backend-config="bucket=my-tf-state" \
  #     -backend-config="key=sluice/prod.tfstate" -backend-config="region=us-east-1"
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Application = "sluice"
      Deployment  = var.name
      ManagedBy   = "terraform"
    })
  }
}
