// Package emf publishes selected Prometheus metrics to CloudWatch as
// Embedded Metric Format: one JSON line per dimension set on stdout, which
// the awslogs driver ships to the log group, where CloudWatch extracts the
// metrics. No PutMetricData calls, so no IAM permission, no extra endpoint
// and no per-request cost. Outside AWS the lines are harmless JSON logs.
package emf

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Spec maps one Prometheus family to one CloudWatch metric.
type Spec struct {
	Family string // Prometheus name
	Name   string // CloudWatch name
	Unit   string // CloudWatch unit: Count, Seconds, None, …
	// Delta publishes a counter's increase since the previous emission
	// instead of its running total (CloudWatch sums per period).
	Delta bool
	// Labels maps Prometheus labels to dimension names; others are dropped
	// (and their series summed).
	Labels map[string]string
}

// WorkerSpecs are the worker's budget, utilization, throttle, queue-age and
// pool-health metrics, by account (budget) and model alias.
var WorkerSpecs = []Spec{
	{Family: "sluice_budget_tokens_per_window", Name: "BudgetTokensPerWindow", Unit: "Count", Labels: poolDims},
	{Family: "sluice_budget_factor", Name: "BudgetFactor", Unit: "None", Labels: poolDims},
	{Family: "sluice_budget_reserved_tokens", Name: "ReservedTokens", Unit: "Count", Labels: poolDims},
	{Family: "sluice_budget_used_tokens_total", Name: "UsedTokens", Unit: "Count", Delta: true, Labels: poolDims},
	{Family: "sluice_bedrock_throttles_total", Name: "Throttles", Unit: "Count", Delta: true, Labels: poolDims},
	{Family: "sluice_bedrock_calls_total", Name: "Calls", Unit: "Count", Delta: true, Labels: map[string]string{"account": "Account", "model": "Model", "outcome": "Outcome"}},
	{Family: "sluice_queue_depth", Name: "QueueDepth", Unit: "Count", Labels: map[string]string{"model": "Model", "priority": "Priority"}},
	{Family: "sluice_queue_oldest_age_seconds", Name: "QueueOldestAge", Unit: "Seconds", Labels: map[string]string{"model": "Model", "priority": "Priority"}},
	{Family: "sluice_calls_in_flight", Name: "CallsInFlight", Unit: "Count"},
}

var poolDims = map[string]string{"account": "Account", "model": "Model"}

// Emitter writes the metrics every Every.
type Emitter struct {
	Namespace string
	// Dimensions are added to every metric (e.g. Service=worker-acme), so
	// each dimension set is also aggregated per service.
	Dimensions map[string]string
	Specs      []Spec
	Gatherer   prometheus.Gatherer
	Every      time.Duration
	Out        io.Writer
	Log        *slog.Logger
	Now        func() time.Time

	mu   sync.Mutex
	last map[string]float64 // counter totals at the previous emission, by series
}

// Run emits until ctx ends, and once more at the end (so a stopping task's
// last interval is not lost). A nil Emitter returns at once.
func (e *Emitter) Run(ctx context.Context) error {
	if e == nil {
		return nil
	}
	t := time.NewTicker(e.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := e.Emit(); err != nil {
				e.Log.Warn("emf", "err", err)
			}
			return nil
		case <-t.C:
			if err := e.Emit(); err != nil {
				e.Log.WarnContext(ctx, "emf", "err", err)
			}
		}
	}
}

// record is one EMF document: a dimension set and its metric values.
type record struct {
	dims    map[string]string
	values  map[string]float64
	units   map[string]string
	ordered []string
}

// Emit writes one line per dimension set.
func (e *Emitter) Emit() error {
	families, err := e.Gatherer.Gather()
	if err != nil {
		return fmt.Errorf("gather: %w", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last = map[string]float64{}
	}
	records := map[string]*record{}
	for _, s := range e.Specs {
		f, ok := byName[s.Family]
		if !ok {
			continue
		}
		sums := map[string]float64{}
		dimsOf := map[string]map[string]string{}
		for _, m := range f.GetMetric() {
			dims := map[string]string{}
			for k, v := range e.Dimensions {
				dims[k] = v
			}
			for _, l := range m.GetLabel() {
				if d, ok := s.Labels[l.GetName()]; ok {
					dims[d] = l.GetValue()
				}
			}
			key := dimsKey(dims)
			sums[key] += value(m)
			dimsOf[key] = dims
		}
		for key, v := range sums {
			if s.Delta {
				series := s.Family + "|" + key
				// Counters start at 0 with the process (or with their
				// series), so an unseen series' total is its increase.
				prev := e.last[series]
				e.last[series] = v
				v = max(v-prev, 0)
			}
			r := records[key]
			if r == nil {
				r = &record{dims: dimsOf[key], values: map[string]float64{}, units: map[string]string{}}
				records[key] = r
			}
			r.values[s.Name] = v
			r.units[s.Name] = s.Unit
			r.ordered = append(r.ordered, s.Name)
		}
	}
	keys := make([]string, 0, len(records))
	for k := range records {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	for _, k := range keys {
		line, err := e.document(records[k], now())
		if err != nil {
			return err
		}
		if _, err := e.Out.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func (e *Emitter) document(r *record, at time.Time) ([]byte, error) {
	dimNames := make([]string, 0, len(r.dims))
	for k := range r.dims {
		dimNames = append(dimNames, k)
	}
	sort.Strings(dimNames)
	type metric struct{ Name, Unit string }
	metrics := make([]metric, 0, len(r.ordered))
	for _, n := range r.ordered {
		metrics = append(metrics, metric{Name: n, Unit: r.units[n]})
	}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  e.Namespace,
				"Dimensions": [][]string{dimNames},
				"Metrics":    metrics,
			}},
		},
	}
	for k, v := range r.dims {
		doc[k] = v
	}
	for k, v := range r.values {
		doc[k] = v
	}
	return json.Marshal(doc)
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func dimsKey(d map[string]string) string {
	parts := make([]string, 0, len(d))
	for k, v := range d {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// FromEnv returns the worker's emitter when SLUICE_EMF_NAMESPACE is set (on
// AWS), else nil: Namespace from it, Service dimension from
// SLUICE_SERVICE_NAME (default "worker"), one emission a minute (the
// resolution CloudWatch alarms and scaling use).
func FromEnv(log *slog.Logger, out io.Writer) *Emitter {
	ns := os.Getenv("SLUICE_EMF_NAMESPACE")
	if ns == "" {
		return nil
	}
	service := os.Getenv("SLUICE_SERVICE_NAME")
	if service == "" {
		service = "worker"
	}
	return &Emitter{Namespace: ns, Dimensions: map[string]string{"Service": service}, Specs: WorkerSpecs,
		Gatherer: prometheus.DefaultGatherer, Every: time.Minute, Out: out, Log: log}
}
