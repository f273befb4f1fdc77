# A complete sluice deployment in one AWS account and region: network, queues,
# Aurora, ECR, IAM, ECS services and alarms. Apply examples/bedrock-account in
# every account listed with a role_arn (see docs/deploy.md for the order).

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id

  # The sluice configuration, exactly as the binaries read it (SLUICE_CONFIG_YAML).
  sluice_config = yamlencode({
    models = {
      for alias, m in var.models : alias => {
        for k, v in {
          bedrock_model_id   = m.bedrock_model_id
          default_max_tokens = m.default_max_tokens
          max_output_tokens  = m.max_output_tokens
          burndown           = m.burndown
        } : k => v if v != null
      }
    }
    accounts = [
      for name in sort(keys(var.accounts)) : {
        name        = name
        region      = var.accounts[name].region
        role_arn    = var.accounts[name].role_arn
        external_id = var.accounts[name].external_id
        models = {
          for alias, b in var.accounts[name].models : alias => { tpm = b.tpm, rpm = b.rpm, tpd = b.tpd }
        }
      }
    ]
  })

  bedrock_caller_role_arns = distinct([for a in var.accounts : a.role_arn if a.role_arn != ""])
  same_account_bedrock     = anytrue([for a in var.accounts : a.role_arn == ""])
}

# --- encryption ------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account}:log-group:/sluice/${var.name}/*",
        "arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account}:log-group:/aws/rds/cluster/${var.name}/*",
      ]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "sluice ${var.name}: queues, database, secrets, logs, alarms"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

# --- images -------------------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  for_each = toset(["api", "worker"])

  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 30 most recent images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}

# --- the api's master key: created empty, its value set out of band ---------------

resource "aws_secretsmanager_secret" "master_key" {
  name_prefix = "${var.name}/master-key-"
  description = "SLUICE_MASTER_KEY of the sluice api (${var.name}); set its value with put-secret-value"
  kms_key_id  = aws_kms_key.this.arn
}

# --- alarms topic ---------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.this.arn
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --- modules ---------------------------------------------------------------------------

module "network" {
  source = "../../modules/network"

  name               = var.name
  cidr_block         = var.vpc_cidr
  az_count           = var.az_count
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = aws_kms_key.this.arn
}

module "queues" {
  source = "../../modules/queues"

  queue_prefix      = var.queue_prefix
  model_aliases     = keys(var.models)
  max_receive_count = var.max_receive_count
  kms_key_arn       = aws_kms_key.this.arn
}

module "database" {
  source = "../../modules/database"

  name                  = var.name
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  engine_version        = var.database.engine_version
  min_capacity          = var.database.min_capacity
  max_capacity          = var.database.max_capacity
  instance_count        = var.database.instance_count
  backup_retention_days = var.database.backup_retention_days
  deletion_protection   = var.database.deletion_protection
  skip_final_snapshot   = var.database.skip_final_snapshot
  log_retention_days    = var.log_retention_days
  kms_key_arn           = aws_kms_key.this.arn

  client_security_group_ids = {
    api    = module.services.api_security_group_id
    worker = module.services.worker_security_group_id
  }
}

module "observability" {
  source = "../../modules/observability"

  name               = var.name
  queues             = module.queues.queues
  log_retention_days = var.log_retention_days
  kms_key_arn        = aws_kms_key.this.arn
  alarm_actions      = [aws_sns_topic.alarms.arn]

  api_load_balancer = {
    arn_suffix              = module.services.alb_arn_suffix
    target_group_arn_suffix = module.services.target_group_arn_suffix
  }

  database = {
    cluster_id = module.database.cluster_id
  }

  metrics_namespace = module.services.metrics_namespace
  cluster_name      = module.services.cluster_name
  api_service_name  = module.services.api_service_name
  workers = {
    for name, a in var.accounts : name => {
      service_name  = module.services.worker_service_names[name]
      model_aliases = sort(keys(a.models))
      min_count     = a.worker.min_count
      max_count     = a.worker.max_count
    }
  }
}

module "iam" {
  source = "../../modules/iam"

  name                     = var.name
  queue_arns               = module.queues.queue_arns
  dlq_arns                 = module.queues.dlq_arns
  queue_kms_key_arns       = [aws_kms_key.this.arn]
  secrets_kms_key_arns     = [aws_kms_key.this.arn]
  database_secret_arn      = module.database.master_user_secret_arn
  master_key_secret_arn    = aws_secretsmanager_secret.master_key.arn
  api_log_group_arn        = module.observability.api_log_group_arn
  worker_log_group_arn     = module.observability.worker_log_group_arn
  ecr_repository_arns      = [for r in aws_ecr_repository.this : r.arn]
  bedrock_caller_role_arns = local.bedrock_caller_role_arns
  same_account_bedrock     = local.same_account_bedrock
  bedrock_model_ids        = distinct([for m in var.models : m.bedrock_model_id])
  database_connect_arns    = [module.database.app_user_connect_arn]
  extra_secrets            = var.extra_secrets
}

module "services" {
  source = "../../modules/services"

  name               = var.name
  vpc_id             = module.network.vpc_id
  private_subnet_ids = module.network.private_subnet_ids
  cpu_architecture   = var.cpu_architecture

  config_yaml                = local.sluice_config
  queue_prefix               = module.queues.queue_prefix
  queues                     = module.queues.queues
  database_url               = module.database.database_url
  database_app_user          = module.database.app_user
  database_secret_arn        = module.database.master_user_secret_arn
  database_security_group_id = module.database.security_group_id
  master_key_secret_arn      = aws_secretsmanager_secret.master_key.arn
  environment                = var.environment
  extra_secrets              = var.extra_secrets
  prerequisite_ids           = module.database.client_rule_ids
  migrate_execution_role_arn = module.iam.migrate_execution_role_arn

  api_egress = {
    via_endpoints              = true
    endpoint_security_group_id = module.network.endpoint_security_group_id
    s3_prefix_list_id          = module.network.s3_prefix_list_id
  }

  api = merge(var.api, {
    image = coalesce(var.api_image, "${aws_ecr_repository.this["api"].repository_url}:${var.image_tag}")
  })
  api_task_role_arn      = module.iam.api_task_role_arn
  api_execution_role_arn = module.iam.api_execution_role_arn
  api_log_group_name     = module.observability.api_log_group_name

  alb_ingress_cidr_blocks = coalesce(var.alb_ingress_cidr_blocks, [module.network.vpc_cidr_block])
  certificate_arn         = var.certificate_arn

  worker_image              = coalesce(var.worker_image, "${aws_ecr_repository.this["worker"].repository_url}:${var.image_tag}")
  worker_task_role_arn      = module.iam.worker_task_role_arn
  worker_execution_role_arn = module.iam.worker_execution_role_arn
  worker_log_group_name     = module.observability.worker_log_group_name

  workers = {
    for name, a in var.accounts : name => merge(a.worker, { model_aliases = sort(keys(a.models)) })
  }
}
