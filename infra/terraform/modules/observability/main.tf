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

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  count = var.api_load_balancer == null ? 0 : 1

  alarm_name        = "${var.name}-api-5xx"
  alarm_description = "The api returns 5xx responses (from targets or from the load balancer itself)."

  comparison_operator = "GreaterThanThreshold"
  threshold           = 10
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "errors"
    expression  = "FILL(elb, 0) + FILL(target, 0)"
    label       = "5xx responses"
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
    id = "target"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.api_load_balancer.arn_suffix }
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
