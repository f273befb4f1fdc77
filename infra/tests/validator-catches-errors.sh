#!/usr/bin/env bash
# Proves that `terraform validate` with the schema-only AWS provider rejects
# broken configurations: each case below is a throwaway root module written to
# a temporary directory, validated, and expected to fail with a given error.
# A valid control module must pass, so a failure can't come from the setup.
#
# Needs TF_CLI_CONFIG_FILE pointing at the dev_overrides of the schema-only
# provider (scripts/check-infra sets it up and runs this).
set -euo pipefail

if [[ -z "${TF_CLI_CONFIG_FILE:-}" ]] || ! grep -q dev_overrides "$TF_CLI_CONFIG_FILE" 2>/dev/null; then
  echo "validator-catches-errors: TF_CLI_CONFIG_FILE must point at the schema-only provider's dev_overrides (run scripts/check-infra)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0

# expect NAME VERDICT PATTERN: VERDICT is "valid" or "invalid"; PATTERN is an
# extended regexp the output of an invalid module must contain. The module
# body comes on stdin.
expect() {
  local name=$1 verdict=$2 pattern=${3:-}
  local dir="$work/$name"
  mkdir -p "$dir"
  cat >"$dir/main.tf"
  local out rc=0
  out=$(cd "$dir" && TF_DATA_DIR="$dir/.terraform" terraform validate -no-color 2>&1) || rc=$?
  local flat
  flat=$(tr -s ' \n' '  ' <<<"$out") # terraform wraps long messages
  if [[ $verdict == valid && $rc -eq 0 ]] ||
    [[ $verdict == invalid && $rc -ne 0 ]] && grep -Eq -- "$pattern" <<<"$flat"; then
    printf '  ok    %-36s %s\n' "$name" "${pattern:+rejected: $(grep -Eo -m1 -- "$pattern" <<<"$flat")}"
    passed=$((passed + 1))
  else
    printf '  FAIL  %-36s expected %s%s, exit %d:\n' "$name" "$verdict" "${pattern:+ with /$pattern/}" "$rc"
    sed 's/^/        /' <<<"$out"
    failed=$((failed + 1))
  fi
}

expect control-valid valid <<'HCL'
provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = { Application = "sluice" }
  }
}
resource "aws_sqs_queue" "dlq" {
  name                    = "q-dlq"
  sqs_managed_sse_enabled = true
}
resource "aws_sqs_queue" "q" {
  name                       = "q"
  visibility_timeout_seconds = 300
  redrive_policy             = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq.arn, maxReceiveCount = 100 })
}
data "aws_iam_policy_document" "p" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.q.arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["true"]
    }
  }
}
resource "aws_ecs_service" "s" {
  name = "s"
  network_configuration {
    subnets = ["subnet-1"]
  }
}
output "url" { value = aws_sqs_queue.q.url }
output "secret" { value = aws_rds_cluster.c.master_user_secret[0].secret_arn }
resource "aws_rds_cluster" "c" {
  engine                      = "aurora-postgresql"
  manage_master_user_password = true
}
HCL

expect unknown-argument invalid 'An argument named "visibility_timeout" is not expected here' <<'HCL'
resource "aws_sqs_queue" "q" {
  name               = "q"
  visibility_timeout = 300
}
HCL

expect wrong-type invalid 'Inappropriate value for attribute "visibility_timeout_seconds": a number is required' <<'HCL'
resource "aws_sqs_queue" "q" {
  name                       = "q"
  visibility_timeout_seconds = "five minutes"
}
HCL

expect wrong-collection-type invalid 'Inappropriate value for attribute "subnets": set of string required' <<'HCL'
resource "aws_ecs_service" "s" {
  name = "s"
  network_configuration {
    subnets = "subnet-1"
  }
}
HCL

expect missing-required-argument invalid 'The argument "assume_role_policy" is required' <<'HCL'
resource "aws_iam_role" "r" {
  name = "r"
}
HCL

expect missing-required-nested-argument invalid 'The argument "subnets" is required' <<'HCL'
resource "aws_ecs_service" "s" {
  name = "s"
  network_configuration {
    assign_public_ip = false
  }
}
HCL

expect unknown-attribute-reference invalid 'This object has no argument, nested block, or exported attribute named "queue_arn"' <<'HCL'
resource "aws_sqs_queue" "q" {
  name = "q"
}
output "arn" { value = aws_sqs_queue.q.queue_arn }
HCL

expect unknown-nested-attribute-reference invalid 'This object does not have an attribute named "arn"' <<'HCL'
resource "aws_rds_cluster" "c" {
  engine = "aurora-postgresql"
}
output "secret" { value = aws_rds_cluster.c.master_user_secret[0].arn }
HCL

expect unknown-resource-type invalid 'The provider hashicorp/aws does not support resource type "aws_sqs_queues"' <<'HCL'
resource "aws_sqs_queues" "q" {
  name = "q"
}
HCL

expect unknown-data-source invalid 'does not support data source "aws_iam_policy_doc"' <<'HCL'
data "aws_iam_policy_doc" "d" {}
HCL

expect unknown-block-type invalid 'Blocks of type "network_config" are not expected here' <<'HCL'
resource "aws_ecs_service" "s" {
  name = "s"
  network_config {
    subnets = ["subnet-1"]
  }
}
HCL

expect block-written-as-argument invalid 'Did you mean to define a block of type "statement"' <<'HCL'
data "aws_iam_policy_document" "p" {
  statement = [{ actions = ["s3:GetObject"], resources = ["*"] }]
}
HCL

expect too-many-blocks invalid 'No more than 1 "network_configuration" blocks are allowed' <<'HCL'
resource "aws_ecs_service" "s" {
  name = "s"
  network_configuration {
    subnets = ["subnet-1"]
  }
  network_configuration {
    subnets = ["subnet-2"]
  }
}
HCL

expect read-only-attribute-set invalid 'Cannot set value for "arn"' <<'HCL'
resource "aws_sqs_queue" "q" {
  name = "q"
  arn  = "arn:aws:sqs:us-east-1:123456789012:q"
}
HCL

expect index-into-set invalid 'Elements of a set are identified only by their value' <<'HCL'
resource "aws_lb" "api" {
  internal = true
}
output "first_sg" { value = aws_lb.api.security_groups[0] }
HCL

expect provider-unknown-argument invalid 'An argument named "regoin" is not expected here' <<'HCL'
provider "aws" {
  regoin = "us-east-1"
}
resource "aws_sqs_queue" "q" {}
HCL

echo "validator-catches-errors: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
