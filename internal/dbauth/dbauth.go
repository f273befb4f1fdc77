// Package dbauth connects to PostgreSQL with IAM database authentication
// when SLUICE_DB_IAM_AUTH=true: every new connection gets a fresh token
// (signed locally from the task role's credentials, valid 15 minutes for
// logging in), so there is no password to rotate and no redeploy when one
// changes. Without it, the URL's or PGPASSWORD's password is used as is.
package dbauth

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Auth fills in the password of each new connection.
type Auth struct {
	region string
	creds  aws.CredentialsProvider
}

// FromEnv returns an Auth when SLUICE_DB_IAM_AUTH is true, else nil (a nil
// Auth leaves connections as configured). base is the process's AWS config,
// loaded once; its credentials are cached by the SDK.
func FromEnv(base aws.Config) (*Auth, error) {
	v := os.Getenv("SLUICE_DB_IAM_AUTH")
	if v == "" {
		return nil, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return nil, fmt.Errorf("SLUICE_DB_IAM_AUTH=%q: want true or false", v)
	}
	if !on {
		return nil, nil
	}
	if base.Region == "" || base.Credentials == nil {
		return nil, fmt.Errorf("SLUICE_DB_IAM_AUTH needs an AWS region and credentials")
	}
	return &Auth{region: base.Region, creds: base.Credentials}, nil
}

// Apply sets cc's password to a token for cc's host, port and user.
func (a *Auth) Apply(ctx context.Context, cc *pgx.ConnConfig) error {
	if a == nil {
		return nil
	}
	endpoint := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	token, err := auth.BuildAuthToken(ctx, endpoint, a.region, cc.User, a.creds)
	if err != nil {
		return fmt.Errorf("IAM auth token for %s@%s: %w", cc.User, endpoint, err)
	}
	cc.Password = token
	return nil
}

// PoolConfig parses url and, with a, has every new pooled connection
// authenticate with a fresh token.
func PoolConfig(url string, a *Auth) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if a != nil {
		cfg.BeforeConnect = a.Apply
	}
	return cfg, nil
}

// Connect opens a single connection (outside the pool, e.g. for LISTEN).
func Connect(ctx context.Context, url string, a *Auth) (*pgx.Conn, error) {
	// Parsed as the pool parses it: the URL may carry pgxpool's own settings
	// (pool_max_conns …), which Postgres would refuse as runtime parameters.
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cc := pc.ConnConfig
	if err := a.Apply(ctx, cc); err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cc)
}
