data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.region
  api_port  = 8080
  metrics   = 9090
  https     = var.certificate_arn != null
  listeners = local.https ? [80, 443] : [80]

  metrics_namespace = coalesce(var.metrics_namespace, "Sluice/${var.name}")

  # The services log in as the application role with IAM database
  # authentication (a token per connection from the task role: nothing to
  # inject, nothing for a password rotation to break) and never migrate:
  # the one-off migrate task does that before they update (docs/deploy.md).
  common_env = merge(var.environment, {
    AWS_REGION          = local.region
    DATABASE_URL        = var.database_url
    PGUSER              = var.database_app_user
    SLUICE_DB_IAM_AUTH  = "true"
    SLUICE_MIGRATE      = "false"
    SLUICE_CONFIG_YAML  = var.config_yaml
    SLUICE_QUEUE_PREFIX = var.queue_prefix
  })

  # Only the migrate task uses the master user, from the RDS-managed secret.
  db_master_secrets = [
    { name = "PGUSER", valueFrom = "${var.database_secret_arn}:username::" },
    { name = "PGPASSWORD", valueFrom = "${var.database_secret_arn}:password::" },
  ]

  # Further secrets for both services (e.g. SLUICE_WEBHOOK_SECRET), by
  # environment name, never as plaintext environment.
  extra_secrets = [for name, arn in var.extra_secrets : { name = name, valueFrom = arn }]

  log_options = {
    awslogs-region  = local.region
    mode            = "non-blocking"
    max-buffer-size = "25m"
  }

  # The images run as distroless "nonroot"; say so here too, so a changed base
  # image cannot silently run as root. The root filesystem is read-only, and
  # there is no scratch volume: the binaries write no files (a Fargate bind
  # mount would be root-owned and unwritable for 65532 anyway).
  hardening = {
    user                   = "65532:65532"
    readonlyRootFilesystem = true
  }

  # Container health checks through the binaries' own healthcheck
  # subcommand: distroless has no shell or curl.
  health_check = {
    interval    = 15
    timeout     = 5
    retries     = 3
    startPeriod = 30
  }

  # Per-task call slots: each pool of a worker runs up to 64 calls (the
  # worker's default concurrency).
  slots_per_model = 64
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

# Workers talk HTTPS to AWS APIs (through the VPC endpoints, or the NAT
# gateway for Bedrock in other regions) and to webhook receivers anywhere.
resource "aws_vpc_security_group_egress_rule" "worker_https" {
  security_group_id = aws_security_group.worker.id
  description       = "HTTPS: AWS APIs, Bedrock in any region, webhooks"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# The api makes no outbound calls of its own: only SQS, and what Fargate does
# through the task's network interface (image pull from ECR and S3, logs,
# secrets). With the VPC endpoints given, HTTPS goes to them only.
resource "aws_vpc_security_group_egress_rule" "api_https_endpoints" {
  count = var.api_egress.via_endpoints ? 1 : 0

  security_group_id            = aws_security_group.api.id
  description                  = "HTTPS to the interface VPC endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.api_egress.endpoint_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "api_https_s3" {
  count = var.api_egress.via_endpoints ? 1 : 0

  security_group_id = aws_security_group.api.id
  description       = "HTTPS to S3 (ECR image layers) through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.api_egress.s3_prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "api_https_anywhere" {
  count = var.api_egress.via_endpoints ? 0 : 1

  security_group_id = aws_security_group.api.id
  description       = "HTTPS: AWS APIs through the NAT gateway (no VPC endpoints given)"
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

# /metrics is for scrapers inside the VPC, never for load-balancer clients:
# the listener that forwards to the api answers it with 404 itself.
resource "aws_lb_listener_rule" "no_metrics" {
  listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = 1

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = ["/metrics", "/metrics/*"]
    }
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

  container_definitions = jsonencode([merge(local.hardening, {
    name         = "api"
    image        = var.api.image
    essential    = true
    stopTimeout  = var.api.stop_timeout
    portMappings = [{ name = "http", containerPort = local.api_port, protocol = "tcp" }]
    healthCheck  = merge(local.health_check, { command = ["CMD", "/usr/local/bin/sluice-api", "healthcheck"] })
    environment  = [for k, v in merge(local.common_env, { SLUICE_LISTEN_ADDR = ":${local.api_port}" }) : { name = k, value = v }]
    secrets = concat(local.extra_secrets, [
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

  # apply returns when the deployment is healthy, or fails with it.
  wait_for_steady_state = var.wait_for_steady_state

  tags = var.tags

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling
  }

  # Tasks must find their network paths in place: the listeners, the egress
  # rules, the database's ingress rules (terraform_data.prerequisites).
  depends_on = [
    aws_lb_listener.http, aws_lb_listener.https, aws_ecs_cluster_capacity_providers.this,
    aws_vpc_security_group_ingress_rule.api_from_alb, aws_vpc_security_group_egress_rule.alb_to_api,
    aws_vpc_security_group_egress_rule.api_https_endpoints, aws_vpc_security_group_egress_rule.api_https_s3,
    aws_vpc_security_group_egress_rule.api_https_anywhere, aws_vpc_security_group_egress_rule.postgres,
    terraform_data.prerequisites,
  ]
}

# What the services need that other modules create (the database's ingress
# rules, …), passed in as ids so that the services wait for them.
resource "terraform_data" "prerequisites" {
  input = var.prerequisite_ids
}

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api.min_count
  max_capacity       = var.api.max_count
  tags               = var.tags
}

# The api mostly waits (sync callers hold a request open while their job
# runs), so CPU says little; requests per task is what it serves.
resource "aws_appautoscaling_policy" "api_requests" {
  name               = "${var.name}-api-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.api.arn_suffix}/${aws_lb_target_group.api.arn_suffix}"
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

  # stopTimeout is Fargate's most (120 s); the worker drains within
  # SLUICE_DRAIN_TIMEOUT, below it, and releases what is left to the queue.
  container_definitions = jsonencode([merge(local.hardening, {
    name         = "worker"
    image        = var.worker_image
    essential    = true
    stopTimeout  = each.value.stop_timeout
    portMappings = [{ name = "metrics", containerPort = local.metrics, protocol = "tcp" }]
    healthCheck  = merge(local.health_check, { command = ["CMD", "/usr/local/bin/sluice-worker", "healthcheck"] })
    environment = [for k, v in merge(local.common_env, {
      SLUICE_ACCOUNTS      = each.key
      SLUICE_METRICS_ADDR  = ":${local.metrics}"
      SLUICE_SERVICE_NAME  = "worker-${each.key}"
      SLUICE_EMF_NAMESPACE = local.metrics_namespace
      SLUICE_DRAIN_TIMEOUT = "${each.value.drain_timeout}s"
    }) : { name = k, value = v }]
    secrets = local.extra_secrets
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

  wait_for_steady_state = var.wait_for_steady_state

  tags = merge(var.tags, { Account = each.key })

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [
    aws_ecs_cluster_capacity_providers.this, aws_vpc_security_group_egress_rule.worker_https,
    aws_vpc_security_group_egress_rule.worker_http, aws_vpc_security_group_egress_rule.postgres,
    terraform_data.prerequisites,
  ]
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

# Workers scale on calls in flight per task against the task's call slots,
# never on backlog: the budget, not the task count, bounds throughput, so a
# backlog above quota (a batch, by design) must not add tasks that could only
# wait. A task at its slots is concurrency-bound and gets company; idle tasks
# go, and busy ones are protected from scale-in while their calls run (ECS
# task scale-in protection). CallsInFlight reaches CloudWatch as EMF.
resource "aws_appautoscaling_policy" "worker_in_flight" {
  for_each = var.workers

  name               = "${var.name}-worker-${each.key}-in-flight"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = coalesce(each.value.in_flight_target, floor(0.5 * local.slots_per_model * length(each.value.model_aliases)))
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      namespace   = local.metrics_namespace
      metric_name = "CallsInFlight"
      statistic   = "Average"

      dimensions {
        name  = "Service"
        value = "worker-${each.key}"
      }
    }
  }
}

# --- migrations: a one-off task, run before the services update --------------------------

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = var.migrate_execution_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([merge(local.hardening, {
    name      = "migrate"
    image     = var.api.image
    essential = true
    command   = ["migrate"]
    environment = [for k, v in {
      AWS_REGION         = local.region
      DATABASE_URL       = var.database_url
      SLUICE_DB_APP_USER = var.database_app_user
    } : { name = k, value = v }]
    secrets = local.db_master_secrets
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { awslogs-group = var.api_log_group_name, awslogs-stream-prefix = "migrate" })
    }
  })])

  tags = var.tags
}
