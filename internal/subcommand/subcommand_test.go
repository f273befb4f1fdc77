package subcommand

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	t.Setenv("SLUICE_METRICS_ADDR", u.Host)
	t.Setenv("SLUICE_LISTEN_ADDR", u.Host)

	for _, proc := range []string{"api", "worker"} {
		var stderr bytes.Buffer
		if code, ok := Run(proc, []string{"healthcheck"}, &stderr, &stderr); !ok || code != 0 {
			t.Fatalf("%s healthy: exit %d (handled %v): %s", proc, code, ok, stderr.String())
		}
	}
	status = http.StatusServiceUnavailable
	var stderr bytes.Buffer
	if code, _ := Run("worker", []string{"healthcheck"}, &stderr, &stderr); code == 0 || !strings.Contains(stderr.String(), "503") {
		t.Fatalf("unhealthy: exit %d, %q; want non-zero with the status", code, stderr.String())
	}
	srv.Close()
	if code, _ := Run("api", []string{"healthcheck"}, &stderr, &stderr); code == 0 {
		t.Fatal("nothing listening: want non-zero")
	}
	if _, ok := Run("api", []string{"serve"}, &stderr, &stderr); ok {
		t.Fatal("an unknown subcommand must be left to the caller")
	}
}

func TestHealthURLDefaults(t *testing.T) {
	t.Setenv("SLUICE_LISTEN_ADDR", "")
	t.Setenv("SLUICE_METRICS_ADDR", ":9191")
	if got := HealthURL("api"); got != "http://127.0.0.1:8080/healthz" {
		t.Errorf("api default: %s", got)
	}
	if got := HealthURL("worker"); got != "http://127.0.0.1:9191/healthz" {
		t.Errorf("worker on :9191: %s", got)
	}
}

func TestMigrateCreatesTheAppRoleWithoutDDL(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	user := fmt.Sprintf("sluice_app_%d", os.Getpid())
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("SLUICE_DB_APP_USER", user)
	var out bytes.Buffer
	if code, _ := Run("api", []string{"migrate"}, &out, &out); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "schema at version") {
		t.Fatalf("migrate output: %s", out.String())
	}
	// Twice is fine (the role exists by then).
	if code, _ := Run("api", []string{"migrate"}, &out, &out); code != 0 {
		t.Fatalf("second migrate: %s", out.String())
	}

	u, _ := url.Parse(dbURL)
	u.User = url.User(user)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatalf("the app role cannot read jobs: %v", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE sneaky (id int)`); err == nil {
		t.Fatal("the app role may create tables; it must not")
	}
}
