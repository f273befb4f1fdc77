// Package testenv gives tests the real services they run against: a Postgres
// database and an SQS-compatible server.
//
// When DATABASE_URL or SLUICE_SQS_ENDPOINT is set (scripts/test sets both, so
// one cluster and one server serve the whole run), tests use them; otherwise a
// test package starts its own throwaway Postgres cluster and fauxqs, and
// stops them when the package's tests end (call Main from TestMain). A test
// that needs moto's fidelity (IAM enforcement) asks for MotoEndpoint.
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/schema"
)

var (
	mu       sync.Mutex
	pg       *devenv.Postgres
	sqs      devenv.SQSServer
	moto     *devenv.Moto
	adminURL string
	sqsURL   string
	seq      atomic.Int64
)

// Main runs a package's tests, stops what they started, and then fails the
// run if the tests left goroutines behind (see CheckLeaks).
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it answers the exit code, for a TestMain
// with work of its own after the tests. stop runs after the tests and before
// the leak check: what the TestMain itself started (its own Postgres, whose
// waiting goroutine would otherwise count as a leak).
func Run(m *testing.M, stop ...func()) int {
	code := m.Run()
	for _, f := range stop {
		f()
	}
	mu.Lock()
	if pg != nil {
		pg.Stop()
	}
	if sqs != nil {
		sqs.Stop()
	}
	if moto != nil {
		moto.Stop()
	}
	mu.Unlock()
	if code == 0 {
		code = CheckLeaks()
	}
	return code
}

func admin(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if adminURL != "" {
		return adminURL
	}
	if u := os.Getenv("DATABASE_URL"); u != "" {
		adminURL = u
		return adminURL
	}
	p, err := devenv.StartPostgres(context.Background())
	if err != nil {
		t.Fatalf("start Postgres: %v", err)
	}
	pg = p
	adminURL = p.URL("postgres")
	return adminURL
}

// DatabaseURL creates a new, empty database for the test and returns its URL.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base := admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("sluice_test_%d_%d_%s", os.Getpid(), seq.Add(1), sanitize(t.Name()))
	if len(name) > 63 {
		name = name[:63]
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Pool returns a migrated pool on a new database, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, DatabaseURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := schema.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

// SQSEndpoint returns the URL of an SQS-compatible server.
func SQSEndpoint(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if sqsURL != "" {
		return sqsURL
	}
	if u := os.Getenv("SLUICE_SQS_ENDPOINT"); u != "" {
		sqsURL = u
		return sqsURL
	}
	srv, err := devenv.StartSQS(context.Background(), devenv.SQSFauxqs)
	if err != nil {
		t.Fatalf("start fauxqs: %v", err)
	}
	sqs = srv
	sqsURL = srv.Endpoint()
	return sqsURL
}

// MotoEndpoint returns the URL of a moto_server, started for this package
// (or SLUICE_MOTO_ENDPOINT): for tests that need what only moto does, such
// as enforcing IAM policies.
func MotoEndpoint(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("SLUICE_MOTO_ENDPOINT"); u != "" {
		return u
	}
	mu.Lock()
	defer mu.Unlock()
	if moto == nil {
		m, err := devenv.StartMoto(context.Background())
		if err != nil {
			t.Fatalf("start moto_server: %v", err)
		}
		moto = m
	}
	return moto.Endpoint()
}

// QueuePrefix is a prefix no other test uses, so tests can share one SQS server.
func QueuePrefix(t testing.TB) string {
	return fmt.Sprintf("t%d-%d", os.Getpid()%100000, seq.Add(1))
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
