package app

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const sluiceConfig = `models:
  nova-lite: {bedrock_model_id: "amazon.nova-lite-v1:0"}
accounts:
  - name: home
    region: us-east-1
    models:
      nova-lite: {tpm: 1000}
`

// On AWS (SLUICE_MIGRATE=false) a process never migrates: on a database
// without the schema it refuses to start and says what to do.
func TestOpenRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Setenv("SLUICE_CONFIG_YAML", sluiceConfig)
	t.Setenv("DATABASE_URL", testenv.DatabaseURL(t))
	t.Setenv("SLUICE_MIGRATE", "false")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("SLUICE_LOG_LEVEL", "error")
	deps, err := Open(context.Background(), "api")
	if err == nil {
		deps.Close()
		t.Fatal("Open succeeded on a database without the schema")
	}
	if !strings.Contains(err.Error(), "run the migrate command") {
		t.Fatalf("error %q does not say to run migrate", err)
	}
}

// Locally (SLUICE_MIGRATE unset) the process migrates and starts.
func TestOpenMigratesLocally(t *testing.T) {
	t.Setenv("SLUICE_CONFIG_YAML", sluiceConfig)
	t.Setenv("DATABASE_URL", testenv.DatabaseURL(t))
	t.Setenv("SLUICE_MIGRATE", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("SLUICE_SQS_ENDPOINT", testenv.SQSEndpoint(t))
	t.Setenv("SLUICE_QUEUE_PREFIX", testenv.QueuePrefix(t))
	t.Setenv("SLUICE_CREATE_QUEUES", "true")
	t.Setenv("SLUICE_LOG_LEVEL", "error")
	deps, err := Open(context.Background(), "worker")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	deps.Close()
}
