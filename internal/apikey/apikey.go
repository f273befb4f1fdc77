// Package apikey manages the API keys callers authenticate with. A key's
// secret (sk-sluice-…) is shown once, when it is made; the database keeps only
// its SHA-256 hash, which is enough to recognise it and useless to a thief of
// the table. Each key belongs to a tenant, and a tenant sees only its own jobs.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Prefix starts every managed key's secret, so that it can be told from the
// master key and spotted by secret scanners.
const Prefix = "sk-sluice-"

// Key is one managed key, without its secret.
type Key struct {
	ID     string
	Tenant string
	Name   string
	// Hint is the start of the secret, to recognise the key by in a list.
	Hint string
	// WebhookURL is the default callback URL of the key's jobs; empty for none.
	WebhookURL string
	// WebhookSecret (whsec_…) signs the callbacks of the key's jobs.
	WebhookSecret string
	// Weight is the key's jobs' share when work of several tenants waits
	// for one model: a key of weight 2 is served twice as much as one of
	// weight 1.
	Weight float64
	Limits
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// ErrNotFound means no key matches: the secret is unknown or revoked, or
// the id names no key.
var ErrNotFound = errors.New("api key not found")

// Store reads and writes keys.
type Store struct{ pool *pgxpool.Pool }

// NewStore wraps a pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// NewKey is what Create needs.
type NewKey struct {
	Name string
	// Tenant shares another key's jobs; empty gives the key a tenant of its own.
	Tenant string
	// CreateTenant allows a Tenant that no key has yet; without it such a
	// Tenant is refused (ErrUnknownTenant), so a typo cannot make a new one.
	CreateTenant bool
	WebhookURL   string
	// Weight is the key's fair share (see Key.Weight); 0 means 1.
	Weight float64
	Limits
}

// Limits confine a key. A key over its rate limits is not refused: its jobs
// wait in the queue (the claim skips them) until its buckets refill.
type Limits struct {
	// Models are the aliases the key may use; empty: every alias.
	Models []string
	// RPM bounds the jobs the key starts per minute, TPM their quota tokens
	// (each job's estimated cost: input estimate + max tokens); 0: no limit.
	RPM, TPM int
}

// Allows reports whether the limits admit an alias.
func (l Limits) Allows(alias string) bool {
	return len(l.Models) == 0 || slices.Contains(l.Models, alias)
}

func (l Limits) check() error {
	if l.RPM < 0 || l.TPM < 0 {
		return fmt.Errorf("a key's rpm and tpm limits must be positive (0 for none), not %d and %d", l.RPM, l.TPM)
	}
	for _, m := range l.Models {
		if strings.TrimSpace(m) == "" {
			return errors.New("a key's allowed models must not be empty names")
		}
	}
	return nil
}

// ErrUnknownTenant means NewKey.Tenant names no existing tenant.
var ErrUnknownTenant = errors.New("unknown tenant")

// Create makes a key and returns it with its secret, which is not kept.
func (s *Store) Create(ctx context.Context, nk NewKey) (*Key, string, error) {
	if strings.TrimSpace(nk.Name) == "" {
		return nil, "", errors.New("a key needs a name")
	}
	secret := Prefix + rand.Text() // 128 random bits
	k := &Key{
		ID:            "key_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""),
		Name:          nk.Name,
		Tenant:        nk.Tenant,
		Hint:          secret[:len(Prefix)+4],
		WebhookURL:    nk.WebhookURL,
		WebhookSecret: NewWebhookSecret(),
		Weight:        nk.Weight,
		Limits:        nk.Limits,
	}
	if k.Weight == 0 {
		k.Weight = 1
	}
	if k.Weight < 0 || k.Weight > 1000 {
		return nil, "", fmt.Errorf("a key's weight must be above 0 and at most 1000, not %g", k.Weight)
	}
	if err := k.Limits.check(); err != nil {
		return nil, "", err
	}
	if k.Tenant == "" {
		k.Tenant = "tenant_" + k.ID[len("key_"):]
	} else if !nk.CreateTenant {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE tenant = $1)`, k.Tenant).Scan(&exists); err != nil {
			return nil, "", fmt.Errorf("look up tenant %q: %w", k.Tenant, err)
		}
		if !exists {
			return nil, "", fmt.Errorf("%w %q: no key belongs to it", ErrUnknownTenant, k.Tenant)
		}
	}
	var url *string
	if k.WebhookURL != "" {
		url = &k.WebhookURL
	}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (id, tenant, name, hash, prefix, webhook_url, webhook_secret, weight, models, rpm, tpm)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, 0), nullif($11, 0)) RETURNING created_at`,
		k.ID, k.Tenant, k.Name, hash(secret), k.Hint, url, k.WebhookSecret, k.Weight, nilIfEmpty(k.Models), k.RPM, k.TPM).Scan(&k.CreatedAt)
	if err != nil {
		return nil, "", fmt.Errorf("create api key %q: %w", nk.Name, err)
	}
	return k, secret, nil
}

// NewWebhookSecret returns a Standard Webhooks signing secret: whsec_ and
// 24 random bytes in base64.
func NewWebhookSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

const columns = `id, tenant, name, prefix, coalesce(webhook_url, ''), webhook_secret, weight,
	coalesce(models, '{}'), coalesce(rpm, 0), coalesce(tpm, 0), created_at, last_used_at, revoked_at`

func scan(row pgx.Row) (*Key, error) {
	var k Key
	err := row.Scan(&k.ID, &k.Tenant, &k.Name, &k.Hint, &k.WebhookURL, &k.WebhookSecret, &k.Weight,
		&k.Models, &k.RPM, &k.TPM, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &k, err
}

// Lookup finds the live key whose secret this is. The hash is looked up, not
// the secret compared, so the lookup's timing says nothing about the secret.
func (s *Store) Lookup(ctx context.Context, secret string) (*Key, error) {
	if !strings.HasPrefix(secret, Prefix) {
		return nil, ErrNotFound
	}
	k, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, hash(secret)))
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			err = fmt.Errorf("look up api key: %w", err)
		}
		return nil, err
	}
	// Note use at most once a minute: a write per request would cost more
	// than the request's own bookkeeping.
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
		if _, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, k.ID); err != nil {
			return nil, fmt.Errorf("note use of api key %s: %w", k.ID, err)
		}
	}
	return k, nil
}

// List returns every key, newest first, revoked ones included.
func (s *Store) List(ctx context.Context) ([]*Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM api_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Key, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// Revoke ends a key: requests with it are refused from now on. Its jobs stay,
// and callbacks already owed for them are still delivered and signed.
func (s *Store) Revoke(ctx context.Context, id string) (*Key, error) {
	k, err := scan(s.pool.QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING `+columns, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return k, err
}

// Get loads one key by id, revoked or not.
func (s *Store) Get(ctx context.Context, id string) (*Key, error) {
	k, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM api_keys WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, err
}

// RotateWebhookSecret gives a live key a new webhook signing secret and
// returns the key with it. Callbacks are signed with the new secret from now
// on, retries of earlier ones included: the receiver must switch at once.
func (s *Store) RotateWebhookSecret(ctx context.Context, id string) (*Key, error) {
	k, err := scan(s.pool.QueryRow(ctx, `UPDATE api_keys SET webhook_secret = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING `+columns,
		id, NewWebhookSecret()))
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("rotate webhook secret of api key %s: %w", id, err)
	}
	return k, err
}
