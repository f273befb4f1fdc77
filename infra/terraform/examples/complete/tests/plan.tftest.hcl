# Offline plan of the complete example with terraform.tfvars.example, against
# a mocked AWS provider: catches what validate cannot see without values —
# variable validations, for_each/count on unknown values, preconditions,
# indexes into sets, bad expressions in locals. Run with:
#   terraform test -var-file=terraform.tfvars.example

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }

  mock_data "aws_vpc_endpoint_service" {
    defaults = {
      availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_region" {
    defaults = {
      region = "us-east-1"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_rds_cluster" {
    defaults = {
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-0000"
        kms_key_id    = "arn:aws:kms:us-east-1:123456789012:key/0000"
        secret_status = "active"
      }]
    }
  }
}

run "plan" {
  command = plan

  assert {
    condition     = length(module.services.worker_service_names) == length(var.accounts)
    error_message = "one worker service per account"
  }

  assert {
    condition     = length(module.queues.queues) == 2 * length(var.models)
    error_message = "an interactive and a batch queue per model alias"
  }

  assert {
    condition     = alltrue([for q in module.queues.queues : q.dlq_name == "${q.name}-dlq"])
    error_message = "each queue's DLQ is named <queue>-dlq"
  }

  assert {
    condition     = module.queues.queues["claude-sonnet/interactive"].name == "sluice-claude-sonnet-interactive"
    error_message = "queue names follow {prefix}-{alias}-{priority}"
  }

  assert {
    condition     = yamldecode(local.sluice_config).models["claude-sonnet"].bedrock_model_id == "us.anthropic.claude-sonnet-4-20250514-v1:0"
    error_message = "the generated sluice configuration carries the models"
  }
}

# Applied against the mocks (nothing leaves the machine), so that generated
# ARNs are known and the rendered policies and container definitions can be
# read.
run "rendered" {
  command = apply

  # Least privilege (infra/tests/iam exercises these under enforcement).
  assert {
    condition = alltrue([for a in module.queues.dlq_arns : contains(flatten([
      for st in jsondecode(module.iam.api_task_policy).Statement : st.Resource if contains(st.Action, "sqs:GetQueueUrl")
    ]), a)])
    error_message = "the api resolves every DLQ at start: it needs sqs:GetQueueUrl on them"
  }

  assert {
    condition = length(setintersection(flatten([
      for st in jsondecode(module.iam.worker_task_policy).Statement : st.Resource if anytrue([for a in st.Action : contains(["sqs:SendMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"], a)])
    ]), module.queues.dlq_arns)) == 0
    error_message = "workers only receive and delete dead letters"
  }

  assert {
    condition = alltrue([for p in [module.iam.api_task_policy, module.iam.worker_task_policy] : contains(flatten([
      for st in jsondecode(p).Statement : st.Resource if contains(st.Action, "rds-db:connect")
    ]), module.database.app_user_connect_arn)])
    error_message = "both services log in to the database with IAM authentication"
  }

  assert {
    condition     = endswith(module.database.app_user_connect_arn, "/sluice_app") && strcontains(module.database.database_url, "sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem")
    error_message = "the services log in as sluice_app over TLS that verifies the server against the RDS CA bundle"
  }

  # Graceful stops, health checks, no master secret in the services.
  assert {
    condition = alltrue([for k, c in module.services.container_definitions : startswith(k, "worker-") ? (
      jsondecode(c)[0].stopTimeout == 120 &&
      contains(jsondecode(c)[0].environment, { name = "SLUICE_DRAIN_TIMEOUT", value = "100s" }) &&
      contains(jsondecode(c)[0].environment, { name = "SLUICE_EMF_NAMESPACE", value = "Sluice/${var.name}" }) &&
      jsondecode(c)[0].healthCheck.command == ["CMD", "/usr/local/bin/sluice-worker", "healthcheck"]
    ) : true])
    error_message = "workers: stopTimeout 120 s, a 100 s drain, EMF metrics, the healthcheck subcommand"
  }

  assert {
    condition = alltrue([for k in ["api", "worker-prod-a"] : (
      !strcontains(module.services.container_definitions[k], "PGPASSWORD") &&
      contains(jsondecode(module.services.container_definitions[k])[0].environment, { name = "SLUICE_MIGRATE", value = "false" }) &&
      contains(jsondecode(module.services.container_definitions[k])[0].environment, { name = "SLUICE_DB_IAM_AUTH", value = "true" })
    )])
    error_message = "the services never migrate and carry no database password"
  }

  assert {
    condition     = jsondecode(module.services.container_definitions["migrate"])[0].command == ["migrate"] && strcontains(module.services.container_definitions["migrate"], "PGPASSWORD")
    error_message = "the migrate task runs `migrate` as the master user"
  }
}

# Broken: a drain that leaves no time to release the rest before SIGKILL.
run "drain_too_long" {
  command = plan

  variables {
    accounts = {
      "home" = {
        region   = "us-east-1"
        role_arn = ""
        models = {
          "nova-lite" = { tpm = 1000000 }
        }
        worker = { drain_timeout = 115 }
      }
    }
  }

  expect_failures = [var.accounts]
}

# The other branches: one account called with the task role itself (no
# role_arn), HTTPS on the load balancer, a NAT gateway per AZ, three AZs,
# Graviton, Spot workers, a single database instance.
run "same_account_https_multi_nat" {
  command = plan

  variables {
    az_count           = 3
    single_nat_gateway = false
    cpu_architecture   = "ARM64"
    certificate_arn    = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    accounts = {
      "home" = {
        region   = "us-east-1"
        role_arn = ""
        models = {
          "nova-lite" = { tpm = 1000000 }
        }
        worker = { min_count = 0, max_count = 2, spot = true }
      }
    }
    database = {
      instance_count      = 1
      min_capacity        = 0
      deletion_protection = false
      skip_final_snapshot = true
    }
  }

  assert {
    condition     = length(module.network.nat_public_ips) == 3
    error_message = "one NAT gateway per AZ"
  }

  assert {
    condition     = startswith(module.services.api_url, "https://")
    error_message = "with a certificate the api is served over HTTPS"
  }

  assert {
    condition     = yamldecode(local.sluice_config).accounts[0].role_arn == ""
    error_message = "an account without role_arn is called with the task role"
  }

  assert {
    condition     = local.same_account_bedrock
    error_message = "same-account Bedrock access is granted when an account has no role_arn"
  }
}
