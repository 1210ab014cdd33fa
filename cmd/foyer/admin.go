package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/policy"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/redisstore"
)

// optBool is a flag that remembers whether it was given.
type optBool struct{ v *bool }

func (o *optBool) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatBool(*o.v)
}
func (o *optBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	o.v = &b
	return nil
}
func (o *optBool) IsBoolFlag() bool { return true }

type optString struct{ v *string }

func (o *optString) String() string {
	if o.v == nil {
		return ""
	}
	return *o.v
}
func (o *optString) Set(s string) error { o.v = &s; return nil }

// adminCommand parses an admin subcommand's flags (plus --redis-url and
// its FOYER_REDIS_URL twin), opens the store and resolves --tenant.
func adminCommand(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer,
	define func(fs *flag.FlagSet)) (*redisstore.Store, storage.Tenant, func(), error) {
	fs := flag.NewFlagSet("foyer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", "", "tenant GUID, name or verified domain (required)")
	redisURL := fs.String("redis-url", getenv("FOYER_REDIS_URL"), "Redis URL (FOYER_REDIS_URL)")
	define(fs)
	if err := fs.Parse(args); err != nil {
		return nil, storage.Tenant{}, nil, err
	}
	if *tenant == "" {
		return nil, storage.Tenant{}, nil, errors.New("--tenant is required")
	}
	if *redisURL == "" {
		return nil, storage.Tenant{}, nil, errors.New("--redis-url (FOYER_REDIS_URL) is required")
	}
	client, err := redisstore.Open(ctx, *redisURL)
	if err != nil {
		return nil, storage.Tenant{}, nil, err
	}
	store := redisstore.New(client, redisstore.Config{})
	t, err := tenancy.NewResolver(store, tenancy.Config{CacheTTL: -1}).Resolve(ctx, *tenant)
	if err != nil {
		client.Close()
		return nil, storage.Tenant{}, nil, err
	}
	return store, t, func() { client.Close() }, nil
}

// policyCommand mirrors the seeds' cmdlets:
//
//	foyer policy get --tenant T
//	foyer policy update --tenant T --allowed-to-sign-up-email-based-subscriptions=true --allow-email-verified-users-to-join-organization=false
func policyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "get" && args[0] != "update") {
		return errors.New("usage: foyer policy get|update --tenant T [flags]")
	}
	var c policy.Change
	flags := map[string]*optBool{}
	var invites optString
	store, t, done, err := adminCommand(ctx, "policy "+args[0], args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		if args[0] != "update" {
			return
		}
		for _, f := range []struct {
			name string
			dst  **bool
		}{
			{"allowed-to-sign-up-email-based-subscriptions", &c.AllowedToSignUpEmailBasedSubscriptions},
			{"allow-email-verified-users-to-join-organization", &c.AllowEmailVerifiedUsersToJoinOrganization},
			{"allowed-to-use-sspr", &c.AllowedToUseSSPR},
			{"allowed-to-read-other-users", &c.AllowedToReadOtherUsers},
		} {
			o := &optBool{}
			flags[f.name] = o
			fs.Var(o, f.name, "true or false (unchanged when absent)")
		}
		fs.Var(&invites, "allow-invites-from", "none, adminsAndGuestInviters, adminsGuestInvitersAndAllMembers or everyone")
	})
	if err != nil {
		return err
	}
	defer done()
	svc := policy.New(store, audit.New(audit.Config{Store: store}))
	p := t.Policy
	if args[0] == "update" {
		c.AllowedToSignUpEmailBasedSubscriptions = flags["allowed-to-sign-up-email-based-subscriptions"].v
		c.AllowEmailVerifiedUsersToJoinOrganization = flags["allow-email-verified-users-to-join-organization"].v
		c.AllowedToUseSSPR = flags["allowed-to-use-sspr"].v
		c.AllowedToReadOtherUsers = flags["allowed-to-read-other-users"].v
		c.AllowInvitesFrom = invites.v
		if p, err = svc.Update(ctx, t.ID, "cli", c); err != nil {
			return err
		}
	}
	return writeJSON(stdout, struct {
		ID string `json:"id"`
		storage.AuthorizationPolicy
	}{"authorizationPolicy", p})
}

// auditCommand lists a tenant's audit events, newest first:
//
//	foyer audit list --tenant T [--top 50]
func auditCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		return errors.New("usage: foyer audit list --tenant T [--top N]")
	}
	var top *int
	store, t, done, err := adminCommand(ctx, "audit list", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		top = fs.Int("top", 50, "how many events, newest first")
	})
	if err != nil {
		return err
	}
	defer done()
	evs, err := store.ListAudit(ctx, t.ID, *top, "")
	if err != nil {
		return err
	}
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
