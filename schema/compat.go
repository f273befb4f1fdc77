package schema

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ContractMarker, on a line of its own in a migration, marks a contract step:
// it drops or changes something that binaries built before it still use, so
// they must no longer start on a database that has it. Every other migration
// is an expand step, which the previous binary runs on unchanged (see
// docs/deploy.md, "Migrations").
const ContractMarker = "-- sluice:contract"

// Status is where a database stands against this binary's migrations.
type Status struct {
	// Database is the newest migration applied; Known is the newest one this
	// binary carries.
	Database, Known int64
	// CompatibleFrom is the oldest Known a binary may have to run on this
	// database: the newest contract migration applied (0 when none).
	CompatibleFrom int64
}

// Check reads the database's schema version and says whether this binary
// may run on it: not on an older schema (run migrate first), and not on a
// newer one whose contract steps dropped what this binary uses. A newer
// schema made only of expand steps is fine: that is what lets a deployment
// roll back to the previous image after migrating.
func Check(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	st := Status{Known: known()}
	var err error
	if st.Database, err = dbVersion(ctx, pool); err != nil {
		return st, err
	}
	if err := pool.QueryRow(ctx, `SELECT compatible_from FROM sluice_schema`).Scan(&st.CompatibleFrom); err != nil &&
		!errors.Is(err, pgx.ErrNoRows) && !isUndefinedTable(err) {
		return st, fmt.Errorf("read sluice_schema: %w", err)
	}
	switch {
	case st.Database < st.Known:
		return st, fmt.Errorf("database schema is at version %d but this binary needs %d: run the migrate command of this image first (on AWS the one-off migrate task; see docs/deploy.md)", st.Database, st.Known)
	case st.CompatibleFrom > st.Known:
		return st, fmt.Errorf("database schema is at version %d, whose contract migration %d removed what this binary (schema %d) uses: deploy an image built with schema %d or newer", st.Database, st.CompatibleFrom, st.Known, st.CompatibleFrom)
	}
	return st, nil
}

// Apply migrates to the newest schema and records the compatibility floor,
// for the migrate command.
func Apply(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	if err := Migrate(ctx, pool); err != nil {
		return Status{}, err
	}
	floor := contractFloor()
	// The floor only rises: a rolled-back migrate must not lower it.
	if _, err := pool.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS sluice_schema (
			id boolean PRIMARY KEY DEFAULT true CHECK (id),
			compatible_from bigint NOT NULL
		);
		`); err != nil {
		return Status{}, fmt.Errorf("create sluice_schema: %w", err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO sluice_schema (id, compatible_from) VALUES (true, $1)
		ON CONFLICT (id) DO UPDATE SET compatible_from = greatest(sluice_schema.compatible_from, excluded.compatible_from)`, floor); err != nil {
		return Status{}, fmt.Errorf("record schema compatibility: %w", err)
	}
	return Check(ctx, pool)
}

func dbVersion(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var v int64
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if isUndefinedTable(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// known is the newest migration embedded in this binary.
func known() int64 {
	var newest int64
	for _, m := range sources() {
		newest = max(newest, m.version)
	}
	return newest
}

// contractFloor is the newest embedded migration marked as a contract step.
func contractFloor() int64 {
	var floor int64
	for _, m := range sources() {
		if m.contract {
			floor = max(floor, m.version)
		}
	}
	return floor
}

type source struct {
	version  int64
	contract bool
}

func sources() []source {
	entries, _ := fs.ReadDir(migrations, ".")
	var out []source
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		f, err := migrations.Open(e.Name())
		if err != nil {
			continue
		}
		s := source{version: v}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == ContractMarker {
				s.contract = true
			}
		}
		f.Close()
		out = append(out, s)
	}
	return out
}

// Ready is what a process checks at start. With migrate (local stacks and
// tests, SLUICE_MIGRATE unset) it first brings an older database up to date;
// on AWS migrations run only as the one-off migrate task, before the
// services update, so that a rollback of the services never meets a schema
// it cannot run on.
func Ready(ctx context.Context, pool *pgxpool.Pool, migrate bool) (Status, error) {
	if migrate {
		st, err := Check(ctx, pool)
		if err == nil || st.Database >= st.Known {
			return st, err
		}
		return Apply(ctx, pool)
	}
	return Check(ctx, pool)
}
