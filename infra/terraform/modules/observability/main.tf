data "aws_region" "current" {}

locals {
  namespace = var.metrics_namespace

  # One entry per (account, model alias) pool.
  pools = merge([
    for account, w in var.workers : {
      for alias in w.model_aliases : "${account}/${alias}" => { account = account, alias = alias, service = w.service_name }
    }
  ]...)
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["api", "worker"])

  name              = "/sluice/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# A message in a dead-letter queue is a job sluice could not process at all
# (poison): someone should look at it.
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = var.queues

  alarm_name        = "${var.name}-dlq-${each.value.dlq_name}"
  alarm_description = "Messages in dead-letter queue ${each.value.dlq_name} (model ${each.value.alias}, ${each.value.priority}): jobs that failed ${each.value.priority == "batch" ? "in batch" : "interactively"} on every delivery. Inspect them, fix the cause, then redrive."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions        = { QueueName = each.value.dlq_name }

  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# Work waiting too long: the budget of the accounts that serve this model is
# too small for the demand, or its workers are not running.
resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = var.queues

  alarm_name        = "${var.name}-age-${each.value.name}"
  alarm_description = "The oldest message in ${each.value.name} is older than ${var.queue_age_thresholds[each.value.priority]} s: demand for ${each.value.alias} exceeds the Bedrock budget that serves it, or its workers are down."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateAgeOfOldestMessage"
  dimensions        = { QueueName = each.value.name }

  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.queue_age_evaluation_minutes
  datapoints_to_alarm = var.queue_age_evaluation_minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_thresholds[each.value.priority]
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# The api answers 504 by design when a sync caller's job outlives
# SLUICE_SYNC_TIMEOUT; that is not a fault. The api logs every 5xx at warn
# level, and this filter counts all of them but 504.
resource "aws_cloudwatch_log_metric_filter" "api_server_errors" {
  name           = "${var.name}-api-server-errors"
  log_group_name = aws_cloudwatch_log_group.this["api"].name
  pattern        = "{ ($.msg = \"http\") && ($.status >= 500) && ($.status != 504) }"

  metric_transformation {
    name          = "ApiServerErrors"
    namespace     = local.namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  count = var.api_load_balancer == null ? 0 : 1

  alarm_name        = "${var.name}-api-5xx"
  alarm_description = "The api returns 5xx responses other than its designed 504 sync timeouts, or the load balancer answers 5xx itself."

  comparison_operator = "GreaterThanThreshold"
  threshold           = 10
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "errors"
    expression  = "FILL(elb, 0) + FILL(api, 0)"
    label       = "5xx responses (without the api's 504s)"
    return_data = true
  }

  metric_query {
    id = "elb"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.api_load_balancer.arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "api"
    metric {
      namespace   = local.namespace
      metric_name = aws_cloudwatch_log_metric_filter.api_server_errors.metric_transformation[0].name
      stat        = "Sum"
      period      = 60
    }
  }

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_unhealthy" {
  count = var.api_load_balancer == null ? 0 : 1

  alarm_name        = "${var.name}-api-unhealthy-targets"
  alarm_description = "api tasks fail the load balancer's health check."
  namespace         = "AWS/ApplicationELB"
  metric_name       = "UnHealthyHostCount"
  dimensions = {
    LoadBalancer = var.api_load_balancer.arn_suffix
    TargetGroup  = var.api_load_balancer.target_group_arn_suffix
  }

  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "database_capacity" {
  count = var.database == null ? 0 : 1

  alarm_name          = "${var.name}-db-capacity"
  alarm_description   = "Aurora Serverless v2 runs above 90% of its maximum ACUs: raise max_capacity."
  namespace           = "AWS/RDS"
  metric_name         = "ACUUtilization"
  dimensions          = { DBClusterIdentifier = var.database.cluster_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 90
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# --- worker pools (EMF metrics from the workers, see internal/emf) --------------

# A pool whose budget factor stays low is throttled by Bedrock well below its
# configured quota: the quota is shared with something else, or smaller than
# configured. Missing data (no calls) is healthy.
resource "aws_cloudwatch_metric_alarm" "pool_health" {
  for_each = local.pools

  alarm_name          = "${var.name}-pool-${replace(each.key, "/", "-")}-throttled"
  alarm_description   = "Pool ${each.value.alias} of account ${each.value.account} has run below half its budget for 15 minutes because Bedrock throttles it: check the account's quota and other users of it."
  namespace           = local.namespace
  metric_name         = "BudgetFactor"
  dimensions          = { Service = each.value.service, Account = each.value.account, Model = each.value.alias }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 15
  datapoints_to_alarm = 15
  comparison_operator = "LessThanThreshold"
  threshold           = 0.5
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# Workers that cannot assume a bedrock-caller role call nothing: a trust
# policy, external id or permission is wrong.
resource "aws_cloudwatch_log_metric_filter" "sts_failures" {
  name           = "${var.name}-worker-sts-failures"
  log_group_name = aws_cloudwatch_log_group.this["worker"].name
  # A phrase match on the raw line: the SDK's error text ("operation error
  # STS: AssumeRole, …") sits inside the err field of the JSON log.
  pattern = "\"STS: AssumeRole\""

  metric_transformation {
    name          = "StsFailures"
    namespace     = local.namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "sts_failures" {
  alarm_name          = "${var.name}-worker-sts-failures"
  alarm_description   = "Workers fail to assume a bedrock-caller role (sts:AssumeRole): check the role's trust policy, external id and the worker role's policy."
  namespace           = local.namespace
  metric_name         = aws_cloudwatch_log_metric_filter.sts_failures.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# Task counts (Container Insights): no worker running where one should, or a
# service pinned at its maximum for an hour (concurrency-bound for that long:
# raise max_count, or find the stuck calls).
resource "aws_cloudwatch_metric_alarm" "workers_down" {
  for_each = { for k, w in var.workers : k => w if w.min_count > 0 }

  alarm_name          = "${var.name}-worker-${each.key}-down"
  alarm_description   = "No task of ${each.value.service_name} has run for 5 minutes."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value.service_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "workers_at_max" {
  for_each = var.workers

  alarm_name          = "${var.name}-worker-${each.key}-at-max"
  alarm_description   = "${each.value.service_name} has run at max_count (${each.value.max_count}) tasks for an hour."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value.service_name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 12
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.max_count
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# --- dashboard ------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      var.api_load_balancer == null ? [] : [{
        type = "metric", width = 12, height = 6
        properties = {
          title  = "api: requests and errors (per minute)"
          region = data.aws_region.current.region
          stat   = "Sum", period = 60
          metrics = [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.api_load_balancer.arn_suffix],
            [".", "HTTPCode_Target_5XX_Count", ".", ".", { label = "target 5xx (with 504 sync timeouts)" }],
            [".", "HTTPCode_ELB_5XX_Count", ".", "."],
            [local.namespace, "ApiServerErrors", { label = "api 5xx without 504" }],
          ]
        }
      }],
      [
        {
          type = "metric", width = 12, height = 6
          properties = {
            title   = "Oldest message waiting (s)"
            region  = data.aws_region.current.region
            stat    = "Maximum", period = 60
            metrics = [for q in var.queues : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q.name]]
          }
        },
        {
          type = "metric", width = 12, height = 6
          properties = {
            title   = "Budget factor per pool (1 = whole budget usable)"
            region  = data.aws_region.current.region
            stat    = "Minimum", period = 60
            metrics = [for p in local.pools : [local.namespace, "BudgetFactor", "Account", p.account, "Model", p.alias, "Service", p.service]]
          }
        },
        {
          type = "metric", width = 12, height = 6
          properties = {
            title   = "Quota tokens used per minute, per pool"
            region  = data.aws_region.current.region
            stat    = "Sum", period = 60
            metrics = [for p in local.pools : [local.namespace, "UsedTokens", "Account", p.account, "Model", p.alias, "Service", p.service]]
          }
        },
        {
          type = "metric", width = 12, height = 6
          properties = {
            title   = "Throttles per minute, per pool"
            region  = data.aws_region.current.region
            stat    = "Sum", period = 60
            metrics = [for p in local.pools : [local.namespace, "Throttles", "Account", p.account, "Model", p.alias, "Service", p.service]]
          }
        },
        {
          type = "metric", width = 12, height = 6
          properties = {
            title   = "Calls in flight per worker task (scaling metric)"
            region  = data.aws_region.current.region
            stat    = "Average", period = 60
            metrics = [for k, w in var.workers : [local.namespace, "CallsInFlight", "Service", w.service_name]]
          }
        },
        {
          type = "metric", width = 12, height = 6
          properties = {
            title   = "Running tasks"
            region  = data.aws_region.current.region
            stat    = "Maximum", period = 60
            metrics = [for s in concat([var.api_service_name], [for w in var.workers : w.service_name]) : ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", s]]
          }
        },
        {
          type = "metric", width = 12, height = 6
          properties = {
            title  = "STS failures and dead letters"
            region = data.aws_region.current.region
            stat   = "Sum", period = 300
            metrics = concat(
              [[local.namespace, "StsFailures"]],
              [for q in var.queues : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.dlq_name, { stat = "Maximum" }]],
            )
          }
        },
      ],
    )
  })
}
