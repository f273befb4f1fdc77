package worker

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Per-pool metrics. Labels are the account name and the model alias.
var (
	metricBudget = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_budget_tokens_per_window", Help: "Configured tokens per quota window (TPM).",
	}, []string{"account", "model"})
	metricFactor = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_budget_factor", Help: "Share of the budget in use after throttle backpressure (1 = all).",
	}, []string{"account", "model"})
	metricReserved = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_budget_reserved_tokens", Help: "Tokens this process holds reserved for calls in flight.",
	}, []string{"account", "model"})
	metricUsed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_budget_used_tokens_total", Help: "Quota tokens charged by finished calls (input + output × burndown).",
	}, []string{"account", "model"})
	metricThrottles = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_bedrock_throttles_total", Help: "Calls Bedrock throttled although the budget admitted them.",
	}, []string{"account", "model"})
	metricCalls = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_bedrock_calls_total", Help: "Bedrock calls by outcome.",
	}, []string{"account", "model", "outcome"})
	metricQueueDepth = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_queue_depth", Help: "Jobs waiting to start.",
	}, []string{"model", "priority"})
	metricQueueAge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_queue_oldest_age_seconds", Help: "Age of the oldest job waiting to start.",
	}, []string{"model", "priority"})
	metricExpired = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_jobs_expired_total", Help: "Jobs ended unstarted because they could no longer finish before their deadline.",
	}, []string{"model"})
	metricRequeued = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_jobs_requeued_total", Help: "Running jobs put back in the queue because their worker's lease lapsed.",
	}, []string{"model"})
	metricFallbacks = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_jobs_fallback_total", Help: "Queued jobs moved to a fallback alias: their own alias had no account that could serve, or they waited past its fallback_after.",
	}, []string{"model", "fallback"})
	// The janitor drains the dead-letter queues as it finds messages there,
	// so their depth stays near zero; this counts what reached them.
	metricDeadLettered = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_dlq_messages_total", Help: "Queue tokens found in a dead-letter queue (received too often while claims failed) and renewed.",
	}, []string{"model", "priority"})
	metricPoolHealthy = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_pool_healthy", Help: "1 while the pool's account can serve its model, 0 while it is down for an account fault.",
	}, []string{"account", "model"})
)
