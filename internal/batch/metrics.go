package batch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	metricPhase = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sluice_batch_phase_seconds",
		Help: "Time one batch spent in a phase: validate (first read of the input file), read (second read), insert (COPY of jobs), send (SQS), finalize (result files).",
		// 10 ms to about 90 minutes.
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 20),
	}, []string{"phase"})
	metricIngested = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sluice_batch_requests_ingested_total", Help: "Batch input lines inserted as jobs.",
	})
	metricSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sluice_batch_requests_sent_total", Help: "Batch jobs sent to a batch queue.",
	})
	metricRefused = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sluice_batch_send_refused_total", Help: "SendMessageBatch entries SQS refused (each is retried).",
	})
	metricEnded = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_batches_ended_total", Help: "Batches that ended, by final status.",
	}, []string{"status"})
)
