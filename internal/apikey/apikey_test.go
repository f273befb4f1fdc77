package apikey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestCreateLookupRevoke(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	s := NewStore(pool)

	k, secret, err := s.Create(ctx, NewKey{Name: "ci", WebhookURL: "https://example.com/hook"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, Prefix) || len(secret) != len(Prefix)+26 || !strings.HasPrefix(secret, k.Hint) || !strings.HasPrefix(k.WebhookSecret, "whsec_") {
		t.Fatalf("key %+v, secret %q", k, secret)
	}
	// Only the hash is stored.
	var stored []byte
	var n int
	if err := pool.QueryRow(ctx, `SELECT hash, (SELECT count(*) FROM api_keys WHERE position($1 in id||tenant||name||prefix||webhook_url) > 0) FROM api_keys`, secret).Scan(&stored, &n); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(secret)); !bytes.Equal(stored, sum[:]) || n != 0 {
		t.Fatalf("stored hash %x, secret found in %d columns", stored, n)
	}

	got, err := s.Lookup(ctx, secret)
	if err != nil || got.ID != k.ID || got.Tenant != k.Tenant || got.WebhookURL != "https://example.com/hook" || got.WebhookSecret != k.WebhookSecret {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	for _, wrong := range []string{secret + "x", Prefix + strings.Repeat("A", 26), "sk-other", ""} {
		if _, err := s.Lookup(ctx, wrong); !errors.Is(err, ErrNotFound) {
			t.Fatalf("lookup(%q) = %v", wrong, err)
		}
	}
	if again, _ := s.Lookup(ctx, secret); again.LastUsedAt == nil {
		t.Fatal("use is not noted")
	}

	shared, _, err := s.Create(ctx, NewKey{Name: "ci-2", Tenant: k.Tenant})
	if err != nil || shared.Tenant != k.Tenant {
		t.Fatalf("shared tenant: %+v %v", shared, err)
	}
	other, _, err := s.Create(ctx, NewKey{Name: "other"})
	if err != nil || other.Tenant == k.Tenant {
		t.Fatalf("own tenant: %+v %v", other, err)
	}

	revoked, err := s.Revoke(ctx, k.ID)
	if err != nil || revoked.RevokedAt == nil {
		t.Fatalf("revoke = %+v, %v", revoked, err)
	}
	if _, err := s.Lookup(ctx, secret); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked key still looks up: %v", err)
	}
	if _, err := s.Revoke(ctx, "key_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown = %v", err)
	}
	keys, err := s.List(ctx)
	if err != nil || len(keys) != 3 || keys[0].ID != other.ID {
		t.Fatalf("list = %v, %v", keys, err)
	}
	if _, _, err := s.Create(ctx, NewKey{Name: " "}); err == nil {
		t.Fatal("a key without a name was made")
	}
}

func TestCommand(t *testing.T) {
	ctx := context.Background()
	s := NewStore(testenv.Pool(t))
	refuse := func(context.Context, string) error { return errors.New("refused") }
	var out bytes.Buffer
	for _, args := range [][]string{nil, {"create"}, {"create", "--name", "x", "extra"}, {"create", "--name", "x", "--webhook-url", "http://10.0.0.1/"}, {"list", "x"}, {"revoke"}, {"frobnicate"}} {
		if err := Command(ctx, s, refuse, args, &out); err == nil {
			t.Errorf("keys %q succeeded", args)
		}
	}
	out.Reset()
	if err := Command(ctx, s, refuse, []string{"create", "--name", "ops"}, &out); err != nil || !strings.Contains(out.String(), "api key:        "+Prefix) {
		t.Fatalf("create: %v\n%s", err, out.String())
	}
	keys, _ := s.List(ctx)
	if len(keys) != 1 {
		t.Fatalf("%d keys after the failed creates and one good one", len(keys))
	}

	for _, args := range [][]string{{"--help"}, {"create", "--help"}, {"list", "-h"}} {
		out.Reset()
		if err := Command(ctx, s, refuse, args, &out); err != nil || !strings.Contains(out.String(), "api keys create --name NAME") {
			t.Errorf("keys %q: %v\n%s", args, err, out.String())
		}
	}

	// --tenant names an existing tenant; a new one needs --create-tenant.
	out.Reset()
	err := Command(ctx, s, refuse, []string{"create", "--name", "typo", "--tenant", "nosuch"}, &out)
	if !errors.Is(err, ErrUnknownTenant) {
		t.Fatalf("create with an unknown tenant: %v\n%s", err, out.String())
	}
	if err := Command(ctx, s, refuse, []string{"create", "--name", "new", "--tenant", "team-a", "--create-tenant"}, &out); err != nil {
		t.Fatalf("create with --create-tenant: %v", err)
	}
	if err := Command(ctx, s, refuse, []string{"create", "--name", "rotated", "--tenant", "team-a"}, &out); err != nil {
		t.Fatalf("create in an existing tenant: %v", err)
	}
	keys, _ = s.List(ctx)
	tenants := map[string]int{}
	for _, k := range keys {
		tenants[k.Tenant]++
	}
	if len(keys) != 3 || tenants["team-a"] != 2 || tenants["nosuch"] != 0 {
		t.Fatalf("keys by tenant after the tenant checks: %v", tenants)
	}
}
