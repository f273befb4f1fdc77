package emf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// parse reads the EMF lines and checks each against the format's rules: a
// timestamp, a namespace, every dimension and metric named at the root.
func parse(t *testing.T, out *bytes.Buffer) []map[string]any {
	t.Helper()
	var docs []map[string]any
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		aws, _ := d["_aws"].(map[string]any)
		if aws == nil || aws["Timestamp"] == nil {
			t.Fatalf("no _aws.Timestamp: %s", sc.Text())
		}
		for _, cwm := range aws["CloudWatchMetrics"].([]any) {
			m := cwm.(map[string]any)
			if m["Namespace"] != "Sluice/test" {
				t.Fatalf("namespace: %v", m["Namespace"])
			}
			for _, set := range m["Dimensions"].([]any) {
				for _, dim := range set.([]any) {
					if _, ok := d[dim.(string)].(string); !ok {
						t.Fatalf("dimension %v missing at the root: %s", dim, sc.Text())
					}
				}
			}
			for _, metric := range m["Metrics"].([]any) {
				name := metric.(map[string]any)["Name"].(string)
				if _, ok := d[name].(float64); !ok {
					t.Fatalf("metric %s missing at the root: %s", name, sc.Text())
				}
			}
		}
		docs = append(docs, d)
	}
	return docs
}

// find returns the record with exactly these dimensions.
func find(docs []map[string]any, dims map[string]string) map[string]any {
	for _, d := range docs {
		set := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)[0].([]any)
		ok := len(set) == len(dims)
		for k, v := range dims {
			if d[k] != v {
				ok = false
			}
		}
		if ok {
			return d
		}
	}
	return nil
}

func TestEmitGaugesAndCounterDeltas(t *testing.T) {
	reg := prometheus.NewRegistry()
	factor := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_budget_factor"}, []string{"account", "model"})
	throttles := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_bedrock_throttles_total"}, []string{"account", "model"})
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_bedrock_calls_total"}, []string{"account", "model", "outcome"})
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_calls_in_flight"})
	reg.MustRegister(factor, throttles, calls, inFlight)

	var out bytes.Buffer
	e := &Emitter{Namespace: "Sluice/test", Dimensions: map[string]string{"Service": "worker-acme"}, Specs: WorkerSpecs,
		Gatherer: reg, Out: &out, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return time.UnixMilli(1700000000000) }}

	factor.WithLabelValues("acme", "claude").Set(0.75)
	throttles.WithLabelValues("acme", "claude").Add(3)
	calls.WithLabelValues("acme", "claude", "ok").Add(10)
	inFlight.Set(5)
	if err := e.Emit(); err != nil {
		t.Fatal(err)
	}
	docs := parse(t, &out)
	pool := find(docs, map[string]string{"Service": "worker-acme", "Account": "acme", "Model": "claude"})
	if pool == nil || pool["BudgetFactor"] != 0.75 || pool["Throttles"] != 3.0 {
		t.Fatalf("first emission: pool record %v in %v", pool, docs)
	}
	task := find(docs, map[string]string{"Service": "worker-acme"})
	if task == nil || task["CallsInFlight"] != 5.0 {
		t.Fatalf("per-task in-flight calls: %v", docs)
	}

	throttles.WithLabelValues("acme", "claude").Add(2)
	calls.WithLabelValues("acme", "claude", "ok").Add(4)
	calls.WithLabelValues("acme", "claude", "failed").Add(1)
	if err := e.Emit(); err != nil {
		t.Fatal(err)
	}
	docs = parse(t, &out)
	pool = find(docs, map[string]string{"Service": "worker-acme", "Account": "acme", "Model": "claude"})
	if pool["Throttles"] != 2.0 || pool["BudgetFactor"] != 0.75 {
		t.Fatalf("second interval: %v, want 2 throttles and the gauge as is", pool)
	}
	outcome := func(o string) any {
		return find(docs, map[string]string{"Service": "worker-acme", "Account": "acme", "Model": "claude", "Outcome": o})["Calls"]
	}
	if outcome("ok") != 4.0 || outcome("failed") != 1.0 {
		t.Fatalf("calls per outcome in the interval: ok %v failed %v, want 4 and 1", outcome("ok"), outcome("failed"))
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("SLUICE_EMF_NAMESPACE", "")
	if e := FromEnv(slog.New(slog.DiscardHandler), &bytes.Buffer{}); e != nil {
		t.Fatal("without SLUICE_EMF_NAMESPACE there is no emitter")
	}
	t.Setenv("SLUICE_EMF_NAMESPACE", "Sluice/prod")
	t.Setenv("SLUICE_SERVICE_NAME", "worker-acme")
	e := FromEnv(slog.New(slog.DiscardHandler), &bytes.Buffer{})
	if e.Namespace != "Sluice/prod" || e.Dimensions["Service"] != "worker-acme" || e.Every != time.Minute {
		t.Fatalf("%+v", e)
	}
}
