# Interface endpoints go only into the subnets of the AZs their service
# supports, and an endpoint no AZ of the VPC supports is refused at plan time.
# Offline, against a mocked provider: terraform test (scripts/check-infra).

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }

  mock_data "aws_region" {
    defaults = {
      region = "us-east-1"
    }
  }

  mock_data "aws_vpc_endpoint_service" {
    defaults = {
      availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name     = "t"
  az_count = 2
}

run "some_azs" {
  command = apply # against the mocks: subnet ids become known

  override_data {
    target = data.aws_vpc_endpoint_service.interface["bedrock-runtime"]
    values = {
      service_name       = "com.amazonaws.us-east-1.bedrock-runtime"
      availability_zones = ["us-east-1b", "us-east-1f"]
    }
  }

  assert {
    condition     = length(aws_vpc_endpoint.interface["bedrock-runtime"].subnet_ids) == 1 && length(aws_vpc_endpoint.interface["sqs"].subnet_ids) == 2
    error_message = "bedrock-runtime's endpoint goes only into the subnet of the one supported AZ in use"
  }
}

# Broken: offered in none of the VPC's AZs.
run "no_az" {
  command = plan

  override_data {
    target = data.aws_vpc_endpoint_service.interface["bedrock-runtime"]
    values = {
      service_name       = "com.amazonaws.us-east-1.bedrock-runtime"
      availability_zones = ["us-east-1f"]
    }
  }

  expect_failures = [aws_vpc_endpoint.interface]
}
