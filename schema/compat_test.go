package schema_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/testenv"
	"github.com/sluice-broker/sluice/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestCheckRefusesSchemasTheBinaryDoesNotKnow(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	st, err := schema.Check(ctx, pool)
	if err == nil || !strings.Contains(err.Error(), "run the migrate command") {
		t.Fatalf("empty database: want a refusal that says to migrate, got %v", err)
	}
	if st.Database != 0 || st.Known < 6 {
		t.Fatalf("empty database: status %+v", st)
	}

	st, err = schema.Apply(ctx, pool)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if st.Database != st.Known || st.CompatibleFrom != 0 {
		t.Fatalf("after apply: %+v, want the database at the known version and no contract floor", st)
	}

	// A newer schema of expand steps only (the previous image after a
	// migrate, i.e. a rollback): allowed.
	if _, err := pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, st.Known+1); err != nil {
		t.Fatal(err)
	}
	if st, err = schema.Check(ctx, pool); err != nil || st.Database != st.Known+1 {
		t.Fatalf("newer expand-only schema: %+v, %v; want allowed", st, err)
	}

	// The newer schema contracted what this binary uses: refused.
	if _, err := pool.Exec(ctx, `UPDATE sluice_schema SET compatible_from = $1`, st.Known+1); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Check(ctx, pool); err == nil || !strings.Contains(err.Error(), "contract migration") {
		t.Fatalf("newer contracted schema: want a refusal, got %v", err)
	}

	// Apply never lowers the floor (an older migrate after a newer one).
	if st, err = schema.Apply(ctx, pool); err == nil || st.CompatibleFrom != st.Known+1 {
		t.Fatalf("apply after a newer contract: %+v, %v; want the floor kept and a refusal", st, err)
	}
}
