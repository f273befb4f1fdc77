package apikey

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Usage describes the keys command.
const Usage = `usage:
  api keys create --name NAME [--tenant TENANT [--create-tenant]] [--webhook-url URL]
      Makes a key and prints its secret and webhook signing secret, once.
      --tenant shares an existing tenant's jobs (to rotate a key); an unknown
      tenant is refused unless --create-tenant is given. By default the key
      gets a tenant of its own. --webhook-url is the default callback of the
      key's jobs (a request's X-Sluice-Callback-Url overrides it).
  api keys list
  api keys revoke KEY_ID

They need only DATABASE_URL (and SLUICE_WEBHOOK_ALLOW_PRIVATE to accept a
private --webhook-url), and never change the schema: run the api (or its
migrations) first.
`

// IsHelp reports whether args ask for help rather than for an action.
func IsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// Command runs "api keys ARGS": the operator's way to manage keys. checkURL
// vets a webhook URL as callbacks will be vetted.
func Command(ctx context.Context, s *Store, checkURL func(context.Context, string) error, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(Usage)
	}
	if IsHelp(args) {
		_, err := io.WriteString(out, Usage)
		return err
	}
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
		fs.SetOutput(out)
		name := fs.String("name", "", "a name to recognise the key by")
		tenant := fs.String("tenant", "", "the existing tenant whose jobs the key sees; default: a new one")
		createTenant := fs.Bool("create-tenant", false, "let --tenant name a tenant no key has yet")
		hook := fs.String("webhook-url", "", "default callback URL of the key's jobs")
		weight := fs.Float64("weight", 1, "the key's share when several tenants' work waits for one model")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("keys create: unexpected arguments %q\n%s", fs.Args(), Usage)
		}
		if *name == "" {
			return fmt.Errorf("keys create: --name is required\n%s", Usage)
		}
		if *hook != "" {
			if err := checkURL(ctx, *hook); err != nil {
				return fmt.Errorf("keys create: --webhook-url: %w", err)
			}
		}
		k, secret, err := s.Create(ctx, NewKey{Name: *name, Tenant: *tenant, CreateTenant: *createTenant, WebhookURL: *hook, Weight: *weight})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "id:             %s\n", k.ID)
		fmt.Fprintf(out, "name:           %s\n", k.Name)
		fmt.Fprintf(out, "tenant:         %s\n", k.Tenant)
		if k.WebhookURL != "" {
			fmt.Fprintf(out, "webhook url:    %s\n", k.WebhookURL)
		}
		fmt.Fprintf(out, "api key:        %s\n", secret)
		fmt.Fprintf(out, "webhook secret: %s\n", k.WebhookSecret)
		fmt.Fprintln(out, "\nThe api key is shown only now; sluice keeps only its hash. The webhook secret verifies this key's callbacks (Standard Webhooks).")
		return nil
	case "list":
		if len(args) > 1 {
			return fmt.Errorf("keys list: unexpected arguments %q\n%s", args[1:], Usage)
		}
		keys, err := s.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTENANT\tKEY\tWEBHOOK URL\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Tenant, k.Hint, dash(k.WebhookURL),
				k.CreatedAt.UTC().Format(time.RFC3339), when(k.LastUsedAt), when(k.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 2 {
			return fmt.Errorf("keys revoke: want one key id\n%s", Usage)
		}
		k, err := s.Revoke(ctx, args[1])
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("keys revoke: no key with id %q", args[1])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked %s (%s) at %s\n", k.ID, k.Name, k.RevokedAt.UTC().Format(time.RFC3339))
		return nil
	default:
		return fmt.Errorf("keys: unknown command %q\n%s", args[0], Usage)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
