data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.region
  api_port  = 8080
  metrics   = 9090
  https     = var.certificate_arn != null
  listeners = local.https ? [80, 443] : [80]

  common_env = merge(var.environment, {
    AWS_REGION          = local.region
    DATABASE_URL        = var.database_url
    SLUICE_CONFIG_YAML  = var.config_yaml
    SLUICE_QUEUE_PREFIX = var.queue_prefix
  })

  # DATABASE_URL carries no credentials: pgx takes the user and password from
  # PGUSER and PGPASSWORD, injected from the RDS-managed secret's JSON keys.
  db_secrets = [
    { name = "PGUSER", valueFrom = "${var.database_secret_arn}:username::" },
    { name = "PGPASSWORD", valueFrom = "${var.database_secret_arn}:password::" },
  ]

  log_options = {
    awslogs-region  = local.region
    mode            = "non-blocking"
    max-buffer-size = "25m"
  }

  # The images run as distroless "nonroot"; say so here too, so a changed base
  # image cannot silently run as root. The root filesystem is read-only; /tmp
  # is a task-local scratch volume.
  hardening = {
    user                   = "65532:65532"
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
  }

  worker_queues = {
    for account, w in var.workers : account => [
      for q in var.queues : q.name if contains(w.model_aliases, q.alias)
    ]
  }
}

# --- cluster -------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- security groups -------------------------------------------------------------

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "sluice api load balancer"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "api" {
  name_prefix = "${var.name}-api-"
  description = "sluice api tasks"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-api" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "worker" {
  name_prefix = "${var.name}-worker-"
  description = "sluice worker tasks"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-worker" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_cidr" {
  for_each = {
    for pair in setproduct(var.alb_ingress_cidr_blocks, local.listeners) : "${pair[0]}/${pair[1]}" => { cidr = pair[0], port = pair[1] }
  }

  security_group_id = aws_security_group.alb.id
  description       = "Clients from ${each.value.cidr}"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
}

resource "aws_vpc_security_group_ingress_rule" "alb_sg" {
  for_each = {
    for pair in setproduct(keys(var.alb_ingress_security_group_ids), local.listeners) : "${pair[0]}/${pair[1]}" => { name = pair[0], port = pair[1] }
  }

  security_group_id            = aws_security_group.alb.id
  description                  = "Clients in security group ${each.value.name}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = var.alb_ingress_security_group_ids[each.value.name]
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the api tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
  referenced_security_group_id = aws_security_group.api.id
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "From the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_metrics" {
  for_each = toset(var.worker_metrics_ingress_cidr_blocks)

  security_group_id = aws_security_group.worker.id
  description       = "Prometheus scrapes from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = local.metrics
  to_port           = local.metrics
  cidr_ipv4         = each.value
}

# Tasks talk HTTPS to AWS APIs (through the VPC endpoints or the NAT gateway)
# and to webhook receivers, and PostgreSQL to the database. Nothing else.
resource "aws_vpc_security_group_egress_rule" "https" {
  for_each = { api = aws_security_group.api.id, worker = aws_security_group.worker.id }

  security_group_id = each.value
  description       = "HTTPS: AWS APIs, webhooks"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "postgres" {
  for_each = { api = aws_security_group.api.id, worker = aws_security_group.worker.id }

  security_group_id            = each.value
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.database_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "worker_http" {
  count = var.allow_http_egress ? 1 : 0

  security_group_id = aws_security_group.worker.id
  description       = "HTTP webhooks"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

# --- load balancer -----------------------------------------------------------------

resource "aws_lb" "api" {
  name_prefix                = "sluice"
  internal                   = true
  load_balancer_type         = "application"
  subnets                    = var.private_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.alb_idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection

  tags = merge(var.tags, { Name = "${var.name}-api" })
}

resource "aws_lb_target_group" "api" {
  name_prefix = "api-"
  port        = local.api_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  # Matches the container's stopTimeout: requests in flight get as long to
  # finish as the task gets to stop.
  deregistration_delay = var.api.stop_timeout

  health_check {
    path                = var.api_health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https ? "redirect" : "forward"
    target_group_arn = local.https ? null : aws_lb_target_group.api.arn

    dynamic "redirect" {
      for_each = local.https ? [1] : []

      content {
        protocol    = "HTTPS"
        port        = "443"
        status_code = "HTTP_301"
      }
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = var.tags
}

# --- api -------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "api" {
  family                   = "${var.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.api.cpu
  memory                   = var.api.memory
  task_role_arn            = var.api_task_role_arn
  execution_role_arn       = var.api_execution_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge(local.hardening, {
    name         = "api"
    image        = var.api.image
    essential    = true
    stopTimeout  = var.api.stop_timeout
    portMappings = [{ name = "http", containerPort = local.api_port, protocol = "tcp" }]
    environment  = [for k, v in merge(local.common_env, { SLUICE_LISTEN_ADDR = ":${local.api_port}" }) : { name = k, value = v }]
    secrets = concat(local.db_secrets, [
      { name = "SLUICE_MASTER_KEY", valueFrom = var.master_key_secret_arn },
    ])
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { awslogs-group = var.api_log_group_name, awslogs-stream-prefix = "api" })
    }
  })])

  tags = var.tags
}

resource "aws_ecs_service" "api" {
  name                    = "api"
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.api.arn
  desired_count           = var.api.min_count
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = local.api_port
  }

  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling
  }

  depends_on = [aws_lb_listener.http, aws_lb_listener.https, aws_ecs_cluster_capacity_providers.this]
}

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api.min_count
  max_capacity       = var.api.max_count
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${var.name}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api.cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# --- workers: one service per account budget ----------------------------------------------

resource "aws_ecs_task_definition" "worker" {
  for_each = var.workers

  family                   = "${var.name}-worker-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  task_role_arn            = var.worker_task_role_arn
  execution_role_arn       = var.worker_execution_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge(local.hardening, {
    name         = "worker"
    image        = var.worker_image
    essential    = true
    stopTimeout  = each.value.stop_timeout
    portMappings = [{ name = "metrics", containerPort = local.metrics, protocol = "tcp" }]
    environment = [for k, v in merge(local.common_env, {
      SLUICE_ACCOUNTS     = each.key
      SLUICE_METRICS_ADDR = ":${local.metrics}"
    }) : { name = k, value = v }]
    secrets = local.db_secrets
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { awslogs-group = var.worker_log_group_name, awslogs-stream-prefix = each.key })
    }
  })])

  tags = merge(var.tags, { Account = each.key })
}

resource "aws_ecs_service" "worker" {
  for_each = var.workers

  name                    = "worker-${each.key}"
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.worker[each.key].arn
  desired_count           = each.value.min_count
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  # With spot: one task always on regular Fargate, the rest on Spot.
  dynamic "capacity_provider_strategy" {
    for_each = each.value.spot ? { FARGATE = { base = 1, weight = 0 }, FARGATE_SPOT = { base = 0, weight = 1 } } : { FARGATE = { base = 0, weight = 1 } }

    content {
      capacity_provider = capacity_provider_strategy.key
      base              = capacity_provider_strategy.value.base
      weight            = capacity_provider_strategy.value.weight
    }
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = merge(var.tags, { Account = each.key })

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

resource "aws_appautoscaling_target" "worker" {
  for_each = var.workers

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
  tags               = var.tags
}

# Step scaling on the account's queues: out when work waits (depth or age),
# in by one when nothing has waited for a while. Quota, not task count, bounds
# throughput, so max_count stays small.
resource "aws_appautoscaling_policy" "worker_out" {
  for_each = var.workers

  name               = "${var.name}-worker-${each.key}-out"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 120
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = 1
    }
  }
}

resource "aws_appautoscaling_policy" "worker_in" {
  for_each = var.workers

  name               = "${var.name}-worker-${each.key}-in"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 300
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = -1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_backlog_high" {
  for_each = var.workers

  alarm_name          = "${var.name}-worker-${each.key}-backlog-high"
  alarm_description   = "Scale out worker-${each.key}: more than ${each.value.scale_out_backlog} messages wait in its queues."
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.scale_out_backlog
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.worker_out[each.key].arn]

  metric_query {
    id          = "backlog"
    expression  = "SUM([${join(",", [for i, _ in local.worker_queues[each.key] : "FILL(v${i}, 0)"])}])"
    label       = "Messages waiting"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = local.worker_queues[each.key]

    content {
      id = "v${metric_query.key}"

      metric {
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = metric_query.value }
        stat        = "Maximum"
        period      = 60
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "worker_age_high" {
  for_each = var.workers

  alarm_name          = "${var.name}-worker-${each.key}-age-high"
  alarm_description   = "Scale out worker-${each.key}: a message has waited more than ${each.value.scale_out_age_seconds} s in its queues."
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.scale_out_age_seconds
  evaluation_periods  = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.worker_out[each.key].arn]

  metric_query {
    id          = "age"
    expression  = "MAX([${join(",", [for i, _ in local.worker_queues[each.key] : "FILL(a${i}, 0)"])}])"
    label       = "Age of the oldest message"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = local.worker_queues[each.key]

    content {
      id = "a${metric_query.key}"

      metric {
        namespace   = "AWS/SQS"
        metric_name = "ApproximateAgeOfOldestMessage"
        dimensions  = { QueueName = metric_query.value }
        stat        = "Maximum"
        period      = 60
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "worker_idle" {
  for_each = var.workers

  alarm_name          = "${var.name}-worker-${each.key}-idle"
  alarm_description   = "Scale in worker-${each.key}: nothing has waited in its queues for 15 minutes."
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = 0
  evaluation_periods  = 15
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_appautoscaling_policy.worker_in[each.key].arn]

  metric_query {
    id          = "waiting"
    expression  = "SUM([${join(",", [for i, _ in local.worker_queues[each.key] : "FILL(w${i}, 0)"])}])"
    label       = "Messages waiting"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = local.worker_queues[each.key]

    content {
      id = "w${metric_query.key}"

      metric {
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = metric_query.value }
        stat        = "Maximum"
        period      = 60
      }
    }
  }

  tags = var.tags
}
