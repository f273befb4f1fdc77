package apikey

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Usage describes the keys command.
const Usage = `usage:
  api keys create --name NAME [--tenant TENANT [--create-tenant]] [--webhook-url URL]
                  [--weight W] [--models A,B] [--rpm N] [--tpm N]
      Makes a key and prints its secret and webhook signing secret, once.
      --tenant shares an existing tenant's jobs (to rotate a key); an unknown
      tenant is refused unless --create-tenant is given. By default the key
      gets a tenant of its own. --webhook-url is the default callback of the
      key's jobs (a request's X-Sluice-Callback-Url overrides it).
      --weight is the key's fair share when tenants' work waits for one
      model. --models confines the key to those aliases; --rpm and --tpm
      bound the jobs (and their quota tokens) it starts per minute: jobs
      over the limit wait in the queue, they are not refused.
  api keys list
  api keys revoke KEY_ID
  api keys rotate-webhook-secret KEY_ID
      Gives the key a new webhook signing secret and prints it, once.

The same operations are served over HTTP with the master key under
/v1/admin/keys (see the README, "Managing keys over HTTP").

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
		models := fs.String("models", "", "comma-separated aliases the key may use; default: all")
		rpm := fs.Int("rpm", 0, "jobs the key may start per minute; 0: no limit")
		tpm := fs.Int("tpm", 0, "quota tokens the key's jobs may take per minute; 0: no limit")
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
		k, secret, err := s.Create(ctx, NewKey{Name: *name, Tenant: *tenant, CreateTenant: *createTenant, WebhookURL: *hook, Weight: *weight,
			Limits: Limits{Models: SplitModels(*models), RPM: *rpm, TPM: *tpm}})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "id:             %s\n", k.ID)
		fmt.Fprintf(out, "name:           %s\n", k.Name)
		fmt.Fprintf(out, "tenant:         %s\n", k.Tenant)
		if k.WebhookURL != "" {
			fmt.Fprintf(out, "webhook url:    %s\n", k.WebhookURL)
		}
		if l := k.Limits.String(); l != "-" {
			fmt.Fprintf(out, "limits:         %s\n", l)
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
		fmt.Fprintln(tw, "ID\tNAME\tTENANT\tKEY\tWEIGHT\tLIMITS\tWEBHOOK URL\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%g\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Tenant, k.Hint, k.Weight, k.Limits, dash(k.WebhookURL),
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
	case "rotate-webhook-secret":
		if len(args) != 2 {
			return fmt.Errorf("keys rotate-webhook-secret: want one key id\n%s", Usage)
		}
		k, err := s.RotateWebhookSecret(ctx, args[1])
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("keys rotate-webhook-secret: no live key with id %q", args[1])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "webhook secret of %s (%s): %s\n", k.ID, k.Name, k.WebhookSecret)
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

// SplitModels reads a comma-separated list of aliases; "" is none.
func SplitModels(list string) []string {
	var out []string
	for m := range strings.SplitSeq(list, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// String shows the limits in a list: "-" for none.
func (l Limits) String() string {
	var parts []string
	if len(l.Models) > 0 {
		parts = append(parts, "models="+strings.Join(l.Models, ","))
	}
	if l.RPM > 0 {
		parts = append(parts, fmt.Sprintf("rpm=%d", l.RPM))
	}
	if l.TPM > 0 {
		parts = append(parts, fmt.Sprintf("tpm=%d", l.TPM))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
