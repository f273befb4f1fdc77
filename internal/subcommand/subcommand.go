// Package subcommand holds the maintenance commands both sluice binaries
// carry: `healthcheck` (for container health checks on distroless images,
// which have no shell or curl) and `migrate` (the one-off schema migration
// run before services update).
package subcommand

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/schema"
)

// Run runs the subcommand named by args[0], if it is one of these, and
// returns the process's exit code; handled is false otherwise. process is
// "api" or "worker".
func Run(process string, args []string, stdout, stderr io.Writer) (code int, handled bool) {
	if len(args) == 0 {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var err error
	switch args[0] {
	case "healthcheck":
		err = Healthcheck(ctx, process)
	case "migrate":
		err = Migrate(ctx, stdout)
	default:
		return 0, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", process, args[0], err)
		return 1, true
	}
	return 0, true
}

// HealthURL is where the local process answers /healthz: the api on
// SLUICE_LISTEN_ADDR, the worker on SLUICE_METRICS_ADDR.
func HealthURL(process string) string {
	addr := os.Getenv("SLUICE_LISTEN_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	if process == "worker" {
		if addr = os.Getenv("SLUICE_METRICS_ADDR"); addr == "" {
			addr = ":9090"
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/healthz"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}

// Healthcheck succeeds when the local process answers /healthz with 200
// within 3 seconds.
func Healthcheck(ctx context.Context, process string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := HealthURL(process)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, body)
	}
	return nil
}

// Migrate applies the schema to DATABASE_URL (as a user that may change it:
// on AWS the master user, from its secret) and, when SLUICE_DB_APP_USER is
// set, makes sure that role exists with the rights the services need and,
// where the database has rds_iam (RDS), logs in with IAM authentication.
func Migrate(ctx context.Context, out io.Writer) error {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return fmt.Errorf("DATABASE_URL is not set")
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer pool.Close()
	st, err := schema.Apply(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema at version %d (this binary's newest: %d; binaries from schema %d on may run on it)\n", st.Database, st.Known, st.CompatibleFrom)
	if user := os.Getenv("SLUICE_DB_APP_USER"); user != "" {
		if err := AppRole(ctx, pool, user); err != nil {
			return err
		}
		fmt.Fprintf(out, "role %s may use the schema\n", user)
	}
	return nil
}

// AppRole creates (if missing) the role the api and worker connect as, and
// grants it the data rights on the schema and nothing else: no DDL, so a
// service can never migrate by accident.
func AppRole(ctx context.Context, pool *pgxpool.Pool, user string) error {
	id := pgx.Identifier{user}.Sanitize()
	var exists, rdsIAM bool
	if err := pool.QueryRow(ctx, `SELECT exists(SELECT 1 FROM pg_roles WHERE rolname = $1), exists(SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')`, user).Scan(&exists, &rdsIAM); err != nil {
		return fmt.Errorf("look up role %s: %w", user, err)
	}
	stmts := []string{}
	if !exists {
		stmts = append(stmts, "CREATE ROLE "+id+" LOGIN")
	}
	if rdsIAM {
		stmts = append(stmts, "GRANT rds_iam TO "+id)
	}
	stmts = append(stmts,
		"GRANT USAGE ON SCHEMA public TO "+id,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+id,
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "+id,
	)
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}
