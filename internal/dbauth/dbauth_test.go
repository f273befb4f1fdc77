package dbauth

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var base = aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTASK", "secret", "session")}

func TestEachConnectionGetsAToken(t *testing.T) {
	t.Setenv("SLUICE_DB_IAM_AUTH", "true")
	a, err := FromEnv(base)
	if err != nil || a == nil {
		t.Fatalf("FromEnv: %v, %v", a, err)
	}
	cfg, err := PoolConfig("postgres://sluice_app@db.cluster-x.eu-west-1.rds.amazonaws.com:5432/sluice?sslmode=verify-full", a)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BeforeConnect == nil {
		t.Fatal("no BeforeConnect: pooled connections would log in without a token")
	}
	cc := cfg.ConnConfig.Copy()
	if err := cfg.BeforeConnect(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	// The token is a presigned rds-db:connect request for this endpoint and user.
	u, err := url.Parse("https://" + cc.Password)
	if err != nil {
		t.Fatalf("token %q: %v", cc.Password, err)
	}
	q := u.Query()
	if u.Host != "db.cluster-x.eu-west-1.rds.amazonaws.com:5432" || q.Get("Action") != "connect" || q.Get("DBUser") != "sluice_app" ||
		!strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDTASK/") || !strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/rds-db/") ||
		q.Get("X-Amz-Security-Token") != "session" {
		t.Fatalf("token does not authorise sluice_app on the endpoint: %s", cc.Password)
	}
}

func TestOffLeavesThePasswordAlone(t *testing.T) {
	for _, v := range []string{"", "false"} {
		t.Setenv("SLUICE_DB_IAM_AUTH", v)
		a, err := FromEnv(base)
		if err != nil || a != nil {
			t.Fatalf("%q: %v, %v; want no Auth", v, a, err)
		}
		// A real connection with the URL's own credentials still works.
		conn, err := Connect(context.Background(), testenv.DatabaseURL(t), a)
		if err != nil {
			t.Fatalf("connect without IAM auth: %v", err)
		}
		conn.Close(context.Background())
	}
	t.Setenv("SLUICE_DB_IAM_AUTH", "yes please")
	if _, err := FromEnv(base); err == nil {
		t.Fatal("a bad value must be refused")
	}
}
