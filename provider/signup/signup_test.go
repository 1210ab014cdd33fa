package signup

import (
	"context"
	"os"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/email"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/password"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/redisstore"
	"github.com/foyer-id/foyer/templates"
)

// TestRefuse is the decision table of DESIGN.md section 2, row by row,
// against the one function that decides it, before the address is proven
// (known=false: only what does not depend on the account) and after.
func TestRefuse(t *testing.T) {
	s := New(Config{})
	policy := func(sOn, j, sspr bool) storage.AuthorizationPolicy {
		return storage.AuthorizationPolicy{AllowedToSignUpEmailBasedSubscriptions: sOn,
			AllowEmailVerifiedUsersToJoinOrganization: j, AllowedToUseSSPR: sspr}
	}
	ext := func(p storage.AuthorizationPolicy) storage.Tenant {
		return storage.Tenant{ID: storage.NewID(), Kind: storage.External, Policy: p}
	}
	wf := func(p storage.AuthorizationPolicy) storage.Tenant {
		return storage.Tenant{ID: storage.NewID(), Kind: storage.Workforce, Policy: p}
	}
	on := storage.App{SignUpEnabled: true}
	for _, tc := range []struct {
		name string
		x    situation
		// want before the code proves the address, and after it (for a
		// new address, then for an existing one)
		before, afterNew, afterExisting string
	}{
		{"app, S false", situation{path: PathApp, tenant: ext(policy(false, true, true)), app: on}, "signUpDisabled", "signUpDisabled", "signUpDisabled"},
		{"app, S true", situation{path: PathApp, tenant: ext(policy(true, false, true)), app: on}, "", "", "accountExists"},
		{"app, signUpEnabled false", situation{path: PathApp, tenant: ext(policy(true, true, true))}, "appSignUpDisabled", "appSignUpDisabled", "appSignUpDisabled"},
		{"app, workforce tenant", situation{path: PathApp, tenant: wf(policy(true, true, true)), app: on}, "appSignUpDisabled", "appSignUpDisabled", "appSignUpDisabled"},
		{"join, S false", situation{path: PathJoin, domain: "d.example", tenant: wf(policy(false, true, true))}, "signUpDisabled", "signUpDisabled", "signUpDisabled"},
		{"join, J false (rows 4 and 5)", situation{path: PathJoin, domain: "d.example", tenant: wf(policy(true, false, true))}, "", "emailVerifiedJoinDisabled", "accountExists"},
		{"join, J true", situation{path: PathJoin, domain: "d.example", tenant: wf(policy(true, true, true))}, "", "", "accountExists"},
		{"join, no tenant for the domain", situation{path: PathJoin, domain: "new.example"}, "", "", ""},
		{"join, consumer domain", situation{path: PathJoin, domain: "gmail.com"}, "domainNotAllowed", "domainNotAllowed", "domainNotAllowed"},
		{"join, domain of an external tenant", situation{path: PathJoin, domain: "d.example", tenant: ext(policy(true, true, true))}, "domainNotAllowed", "domainNotAllowed", "domainNotAllowed"},
		{"reset, SSPR off", situation{kind: storage.FlowPasswordReset, path: PathApp, tenant: ext(policy(true, true, false))}, "ssprDisabled", "ssprDisabled", "ssprDisabled"},
		{"reset, SSPR on, S off", situation{kind: storage.FlowPasswordReset, path: PathApp, tenant: ext(policy(false, false, true))}, "", "", ""},
		{"join reset, no tenant", situation{kind: storage.FlowPasswordReset, path: PathJoin, domain: "new.example"}, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.x.kind == "" {
				tc.x.kind = storage.FlowSignUp
			}
			code := func(x situation) string {
				if err := s.refuse(x); err != nil {
					return fault.From(err).Code
				}
				return ""
			}
			if got := code(tc.x); got != tc.before {
				t.Errorf("before the code: %q, want %q", got, tc.before)
			}
			x := tc.x
			x.known = true
			if got := code(x); got != tc.afterNew {
				t.Errorf("after the code, new address: %q, want %q", got, tc.afterNew)
			}
			x.exists = tc.x.tenant.ID != ""
			if !x.exists {
				return // a tenant yet to be created has no accounts
			}
			if got := code(x); got != tc.afterExisting && tc.x.kind == storage.FlowSignUp {
				t.Errorf("after the code, existing address: %q, want %q", got, tc.afterExisting)
			}
		})
	}
}

// countingStore counts the flow reads and compare-and-swaps.
type countingStore struct {
	*redisstore.Store
	gets, updates atomic.Int64
}

func (c *countingStore) GetFlow(ctx context.Context, tenantID, id string) (storage.Flow, error) {
	c.gets.Add(1)
	return c.Store.GetFlow(ctx, tenantID, id)
}

func (c *countingStore) UpdateFlow(ctx context.Context, tenantID, id string, fn func(*storage.Flow) error) (storage.Flow, error) {
	c.updates.Add(1)
	return c.Store.UpdateFlow(ctx, tenantID, id, fn)
}

var reCode = regexp.MustCompile(`(?m)^\s*(\d{8})\s*$`)

// TestStepsTakeTheLoadedFlow: the page loads a flow once (Flow) and each
// step works on it, changing it by compare-and-swap without reading it
// again.
func TestStepsTakeTheLoadedFlow(t *testing.T) {
	var client redis.UniversalClient
	if url := os.Getenv("FOYER_TEST_REDIS_URL"); url != "" {
		c, err := redisstore.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		client = c
	} else {
		client = redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	}
	t.Cleanup(func() { client.Close() })
	store := &countingStore{Store: redisstore.New(client, redisstore.Config{})}
	ctx := t.Context()
	tenant := storage.Tenant{ID: storage.NewID(), Name: "t-" + storage.NewID()[:8], Kind: storage.External,
		Policy: storage.DefaultPolicy(storage.External)}
	if err := store.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	app := storage.App{ClientID: "app-" + storage.NewID(), TenantID: tenant.ID, DisplayName: "App", SignUpEnabled: true,
		RedirectURIs: []string{"https://app.example/cb"}, AllowedScopes: []string{"openid"}, SignUpAttributes: []string{"city"}}
	if err := store.CreateApp(ctx, tenant.ID, app); err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mailbox := email.NewMailbox(10, nil)
	s := New(Config{Store: store, Mail: mailbox, Hasher: hasher, Templates: tpl, Audit: audit.New(audit.Config{Store: store}),
		URLs: tenancy.URLs{Base: "https://id.example"}, CodeKey: make([]byte, 32)})

	addr := "new-" + storage.NewID()[:8] + "@example.org"
	f, err := s.Begin(ctx, Start{TenantID: tenant.ID, Kind: storage.FlowSignUp, Path: PathApp, ClientID: app.ClientID,
		AuthRequestID: "ar", Email: addr, IP: "192.0.2.1", Binding: "b"})
	if err != nil {
		t.Fatal(err)
	}
	m := reCode.FindStringSubmatch(mailbox.Messages()[0].Text)
	if m == nil {
		t.Fatal("no code mailed")
	}
	step := func(name string, do func(storage.Flow) (storage.Flow, error), updates int64) storage.Flow {
		t.Helper()
		loaded, err := s.Flow(ctx, tenant.ID, f.ID, "b") // the page's one read
		if err != nil {
			t.Fatal(err)
		}
		store.gets.Store(0)
		store.updates.Store(0)
		g, err := do(loaded)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if gets, ups := store.gets.Load(), store.updates.Load(); gets != 0 || ups != updates {
			t.Fatalf("%s read the flow %d more times and swapped it %d times, want 0 and %d", name, gets, ups, updates)
		}
		return g
	}
	step("Verify", func(f storage.Flow) (storage.Flow, error) { return s.Verify(ctx, f, m[1]) }, 2) // count, then advance
	step("Complete", func(f storage.Flow) (storage.Flow, error) {
		res, err := s.Complete(ctx, f, Profile{Password: "a long and unusual passphrase", DisplayName: "N", GivenName: "N",
			Surname: "P", Extra: map[string]string{"city": "Lyon"}})
		if err == nil && (res.User.Mail != addr || res.User.City != "Lyon" || res.HomeTenantID != tenant.ID) {
			t.Fatalf("created %+v", res)
		}
		return f, err
	}, 1)
	id, err := store.UserIDByMail(ctx, tenant.ID, addr)
	if err != nil {
		t.Fatalf("no account: %v", err)
	}

	// The browser whose answer was lost submits the profile again: it
	// gets the same account, and nothing new is created.
	done, err := s.Flow(ctx, tenant.ID, f.ID, "b")
	if err != nil {
		t.Fatalf("the completed flow is gone: %v", err)
	}
	res, err := s.Complete(ctx, done, Profile{Password: "a long and unusual passphrase", DisplayName: "N", GivenName: "N", Surname: "P"})
	if err != nil || res.User.ID != id || res.HomeTenantID != tenant.ID {
		t.Fatalf("repeated completion: %+v, %v; want account %s", res, err, id)
	}
	// After repeatWindow the flow is over.
	late := New(Config{Store: store, Mail: mailbox, Hasher: hasher, Templates: tpl, Audit: audit.New(audit.Config{Store: store}),
		URLs: tenancy.URLs{Base: "https://id.example"}, CodeKey: make([]byte, 32),
		Clock: func() time.Time { return time.Now().Add(repeatWindow + time.Minute) }})
	if _, err := late.Complete(ctx, done, Profile{Password: "a long and unusual passphrase", DisplayName: "N", GivenName: "N", Surname: "P"}); fault.From(err).Code != fault.From(errFlow()).Code {
		t.Fatalf("completion repeated after the window: %v, want the flow's end", err)
	}
}
