// Package deploy holds the files operators deploy beside sluice; this test
// keeps the dashboard and the alert rules in step with the code.
package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// registered collects the metric names the code registers (Name: "sluice_…").
func registered(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	re := regexp.MustCompile(`Name:\s+"(sluice_[a-z0-9_]+)"`)
	err := filepath.WalkDir("../internal", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 {
		t.Fatalf("found only %d registered metrics: %v", len(names), names)
	}
	return names
}

// used lists the sluice_ metric names in a file's expressions.
func used(text string) []string {
	return regexp.MustCompile(`sluice_[a-z0-9_]+`).FindAllString(text, -1)
}

func TestDashboardAndAlertsUseRegisteredMetrics(t *testing.T) {
	names := registered(t)

	raw, err := os.ReadFile("prometheus/sluice-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alert rules: %v", err)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v lacks a name, expression, severity or summary", r)
			}
			alerts[r.Alert] = true
			for _, m := range used(r.Expr) {
				if !names[m] {
					t.Errorf("alert %s uses %s, which the code does not register", r.Alert, m)
				}
			}
		}
	}
	// The alerts issue 17 asks for.
	for _, a := range []string{"SluicePoolUnhealthy", "SluiceBedrockThrottles", "SluiceInteractiveJobsWaiting", "SluiceDeadLetters", "SluiceWebhookFailures"} {
		if !alerts[a] {
			t.Errorf("no alert %s", a)
		}
	}

	raw, err = os.ReadFile("grafana/sluice-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range used(q.Expr) {
				if !names[m] {
					t.Errorf("panel %q uses %s, which the code does not register", p.Title, m)
				}
			}
		}
	}
}
