package tenancy_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/redisstore"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // the store-down tests make go-redis log every refused dial
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a real store (a real Redis when FOYER_TEST_REDIS_URL is set and
// the test does not need miniredis) holding one tenant with a domain.
type env struct {
	store  *redisstore.Store
	client redis.UniversalClient
	mr     *miniredis.Miniredis // nil on a real Redis
	clock  *clock
	tenant storage.Tenant
	domain string
}

func newEnv(t *testing.T, needMiniredis bool) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if url := os.Getenv("FOYER_TEST_REDIS_URL"); url != "" && !needMiniredis {
		c, err := redisstore.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		e.client = c
	} else {
		e.mr = miniredis.RunT(t)
		e.client = redis.NewClient(&redis.Options{Addr: e.mr.Addr(), DialerRetries: 1})
	}
	t.Cleanup(func() { e.client.Close() })
	e.store = redisstore.New(e.client, redisstore.Config{})
	e.tenant, e.domain = e.newTenant(t)
	return e
}

// newTenant creates a tenant with a random name and a verified domain.
func (e *env) newTenant(t *testing.T) (storage.Tenant, string) {
	t.Helper()
	id := storage.NewID()
	tn := storage.Tenant{ID: id, Name: "tenant-" + id[:8], DisplayName: "Contoso", Kind: storage.External}
	domain := "contoso-" + id[:8] + ".example"
	if err := e.store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddDomain(t.Context(), id, domain); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.GetTenant(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return got, domain
}

func (e *env) resolver(ttl time.Duration) *tenancy.Resolver {
	return tenancy.NewResolver(e.store, tenancy.Config{CacheTTL: ttl, Clock: e.clock.Now})
}

// deleteTenant removes the tenant's record and its name and domain
// claims (redisstore's documented key layout); the store has no delete.
func (e *env) deleteTenant(t *testing.T, tn storage.Tenant, domain string) {
	t.Helper()
	ctx := t.Context()
	if err := e.client.Del(ctx, "foyer:{t:"+tn.ID+"}:tenant").Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.client.HDel(ctx, "foyer:{g}:tenant-names", tn.Name).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.client.HDel(ctx, "foyer:{g}:domains", domain).Err(); err != nil {
		t.Fatal(err)
	}
}

// renameTenant moves the tenant's name claim to newName, as a rename
// would (UpdateTenant may not change Name).
func (e *env) renameTenant(t *testing.T, tn storage.Tenant, newName string) {
	t.Helper()
	ctx := t.Context()
	if err := e.client.HDel(ctx, "foyer:{g}:tenant-names", tn.Name).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.client.HSet(ctx, "foyer:{g}:tenant-names", newName, tn.ID).Err(); err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, got storage.Tenant, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("resolved to %+v, want not found", got)
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.NotFound || fe.Code != "tenantNotFound" {
		t.Fatalf("error %v: want a fault of kind NotFound, code tenantNotFound", err)
	}
	if errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("error %v wraps storage.ErrUnavailable", err)
	}
	if got != (storage.Tenant{}) {
		t.Fatalf("returned %+v with the error", got)
	}
}

func TestResolve(t *testing.T) {
	e := newEnv(t, false)
	other, otherDomain := e.newTenant(t)
	r := e.resolver(-1) // no cache: every case reads the store
	for _, tc := range []struct {
		name, segment string
		want          storage.Tenant
	}{
		{"GUID", e.tenant.ID, e.tenant},
		{"GUID in upper case", strings.ToUpper(e.tenant.ID), e.tenant},
		{"name", e.tenant.Name, e.tenant},
		{"name in upper case", strings.ToUpper(e.tenant.Name), e.tenant},
		{"name in mixed case", "Tenant-" + e.tenant.Name[len("tenant-"):], e.tenant},
		{"verified domain", e.domain, e.tenant},
		{"verified domain in upper case", strings.ToUpper(e.domain), e.tenant},
		{"other tenant's GUID", other.ID, other},
		{"other tenant's name", other.Name, other},
		{"other tenant's domain", otherDomain, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(t.Context(), tc.segment)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tc.want.ID || got.Name != tc.want.Name || got.DisplayName != tc.want.DisplayName {
				t.Fatalf("Resolve(%q) = %+v, want %+v", tc.segment, got, tc.want)
			}
		})
	}

	for _, tc := range []struct{ name, segment string }{
		{"unknown GUID", storage.NewID()},
		{"unknown name", "nobody-" + storage.NewID()[:8]},
		{"unknown domain", "nobody-" + storage.NewID()[:8] + ".example"},
		{"empty", ""},
		{"too long", strings.Repeat("a", 254)},
		{"too long domain", strings.Repeat("a.", 127)},
		{"name as a domain", e.tenant.Name + ".example"},
		{"domain without its last label", strings.TrimSuffix(e.domain, ".example")},
		{"GUID with braces", "{" + e.tenant.ID + "}"},
		{"GUID with trailing space", e.tenant.ID + " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(t.Context(), tc.segment)
			wantNotFound(t, got, err)
		})
	}
}

func TestResolveCache(t *testing.T) {
	const ttl = 10 * time.Second

	// Each case resolves the tenant through one segment, changes the store
	// with change, and expects the old answer until the TTL has passed and
	// after that the answer check accepts.
	for _, tc := range []struct {
		name    string
		segment func(e *env) string
		change  func(t *testing.T, e *env)
		after   func(t *testing.T, e *env, got storage.Tenant, err error)
	}{
		{
			name:    "updated tenant, by GUID",
			segment: func(e *env) string { return e.tenant.ID },
			change: func(t *testing.T, e *env) {
				if _, err := e.store.UpdateTenant(t.Context(), e.tenant.ID, func(tn *storage.Tenant) error {
					tn.DisplayName = "Fabrikam"
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			},
			after: func(t *testing.T, e *env, got storage.Tenant, err error) {
				if err != nil || got.DisplayName != "Fabrikam" {
					t.Fatalf("after the TTL: %+v, %v; want the new display name", got, err)
				}
			},
		},
		{
			name:    "renamed tenant, by its old name",
			segment: func(e *env) string { return e.tenant.Name },
			change:  func(t *testing.T, e *env) { e.renameTenant(t, e.tenant, "renamed-"+e.tenant.ID[:8]) },
			after: func(t *testing.T, e *env, got storage.Tenant, err error) {
				wantNotFound(t, got, err)
			},
		},
		{
			name:    "deleted tenant, by GUID",
			segment: func(e *env) string { return e.tenant.ID },
			change:  func(t *testing.T, e *env) { e.deleteTenant(t, e.tenant, e.domain) },
			after: func(t *testing.T, e *env, got storage.Tenant, err error) {
				wantNotFound(t, got, err)
			},
		},
		{
			name:    "deleted tenant, by name",
			segment: func(e *env) string { return e.tenant.Name },
			change:  func(t *testing.T, e *env) { e.deleteTenant(t, e.tenant, e.domain) },
			after: func(t *testing.T, e *env, got storage.Tenant, err error) {
				wantNotFound(t, got, err)
			},
		},
		{
			name:    "deleted tenant, by domain",
			segment: func(e *env) string { return e.domain },
			change:  func(t *testing.T, e *env) { e.deleteTenant(t, e.tenant, e.domain) },
			after: func(t *testing.T, e *env, got storage.Tenant, err error) {
				wantNotFound(t, got, err)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			r := e.resolver(ttl)
			seg := tc.segment(e)
			first, err := r.Resolve(t.Context(), seg)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, e)
			for _, step := range []time.Duration{0, ttl / 2, ttl/2 - time.Nanosecond} {
				e.clock.Advance(step)
				got, err := r.Resolve(t.Context(), seg)
				if err != nil || got != first {
					t.Fatalf("within the TTL: %+v, %v; want the cached %+v", got, err, first)
				}
			}
			e.clock.Advance(time.Nanosecond) // the TTL has passed
			got, err := r.Resolve(t.Context(), seg)
			tc.after(t, e, got, err)
		})
	}

	t.Run("segments are cached apart and case-insensitively", func(t *testing.T) {
		e := newEnv(t, false)
		r := e.resolver(ttl)
		if _, err := r.Resolve(t.Context(), e.tenant.Name); err != nil {
			t.Fatal(err)
		}
		e.deleteTenant(t, e.tenant, e.domain)
		if _, err := r.Resolve(t.Context(), strings.ToUpper(e.tenant.Name)); err != nil {
			t.Fatalf("upper-case name after caching the lower-case one: %v", err)
		}
		// The GUID was never resolved, so it is not cached.
		got, err := r.Resolve(t.Context(), e.tenant.ID)
		wantNotFound(t, got, err)
	})

	t.Run("not found is not cached", func(t *testing.T) {
		e := newEnv(t, false)
		r := e.resolver(ttl)
		tn := storage.Tenant{ID: storage.NewID(), Name: "late-" + storage.NewID()[:8]}
		got, err := r.Resolve(t.Context(), tn.Name)
		wantNotFound(t, got, err)
		if err := e.store.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		if got, err := r.Resolve(t.Context(), tn.Name); err != nil || got.ID != tn.ID {
			t.Fatalf("after creation: %+v, %v", got, err)
		}
	})

	t.Run("negative TTL disables the cache", func(t *testing.T) {
		e := newEnv(t, false)
		r := e.resolver(-1)
		if _, err := r.Resolve(t.Context(), e.tenant.ID); err != nil {
			t.Fatal(err)
		}
		e.deleteTenant(t, e.tenant, e.domain)
		got, err := r.Resolve(t.Context(), e.tenant.ID)
		wantNotFound(t, got, err)
	})

	t.Run("zero TTL means the default of 1 s", func(t *testing.T) {
		e := newEnv(t, false)
		r := e.resolver(0)
		if _, err := r.Resolve(t.Context(), e.tenant.ID); err != nil {
			t.Fatal(err)
		}
		e.deleteTenant(t, e.tenant, e.domain)
		e.clock.Advance(time.Second - time.Nanosecond)
		if _, err := r.Resolve(t.Context(), e.tenant.ID); err != nil {
			t.Fatalf("within 1 s: %v", err)
		}
		e.clock.Advance(time.Nanosecond)
		got, err := r.Resolve(t.Context(), e.tenant.ID)
		wantNotFound(t, got, err)
	})

	t.Run("a full cache is cleared", func(t *testing.T) {
		e := newEnv(t, false)
		b, _ := e.newTenant(t)
		c, _ := e.newTenant(t)
		r := tenancy.NewResolver(e.store, tenancy.Config{CacheTTL: time.Hour, MaxEntries: 2, Clock: e.clock.Now})
		for _, seg := range []string{e.tenant.ID, b.ID} {
			if _, err := r.Resolve(t.Context(), seg); err != nil {
				t.Fatal(err)
			}
		}
		e.deleteTenant(t, e.tenant, e.domain)
		if _, err := r.Resolve(t.Context(), e.tenant.ID); err != nil {
			t.Fatalf("cached entry: %v", err)
		}
		if _, err := r.Resolve(t.Context(), c.ID); err != nil { // third entry: clears
			t.Fatal(err)
		}
		got, err := r.Resolve(t.Context(), e.tenant.ID)
		wantNotFound(t, got, err)
	})
}

func TestResolveStoreDown(t *testing.T) {
	e := newEnv(t, true)
	r := e.resolver(10 * time.Second)
	if _, err := r.Resolve(t.Context(), e.tenant.ID); err != nil {
		t.Fatal(err)
	}
	e.mr.Close()

	t.Run("cached", func(t *testing.T) {
		if got, err := r.Resolve(t.Context(), e.tenant.ID); err != nil || got.ID != e.tenant.ID {
			t.Fatalf("within the TTL, with the store down: %+v, %v", got, err)
		}
	})
	for _, tc := range []struct{ name, segment string }{
		{"GUID", storage.NewID()},
		{"name", e.tenant.Name},
		{"domain", e.domain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(t.Context(), tc.segment)
			if err == nil {
				t.Fatalf("resolved %+v with the store down", got)
			}
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("error %v does not wrap storage.ErrUnavailable", err)
			}
			if k := fault.From(err).Kind; k != fault.Unavailable {
				t.Fatalf("fault kind %v, want Unavailable (not a 404 for a tenant that may exist)", k)
			}
		})
	}
	t.Run("after the TTL", func(t *testing.T) {
		e.clock.Advance(10 * time.Second)
		_, err := r.Resolve(t.Context(), e.tenant.ID)
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("error %v does not wrap storage.ErrUnavailable", err)
		}
	})
}

func TestContext(t *testing.T) {
	if _, ok := tenancy.FromContext(t.Context()); ok {
		t.Fatal("FromContext found a tenant in an empty context")
	}
	tn := storage.Tenant{ID: storage.NewID(), Name: "contoso"}
	got, ok := tenancy.FromContext(tenancy.WithTenant(t.Context(), tn))
	if !ok || got.ID != tn.ID {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}

func TestURLs(t *testing.T) {
	u := tenancy.URLs{Base: "https://login.foyer.example"}
	const id = "2f0a4b1c-3d5e-4f60-8a1b-2c3d4e5f6071"
	for _, tc := range []struct{ got, want string }{
		{u.Issuer(id), "https://login.foyer.example/" + id + "/v2.0"},
		{u.TenantPath(id, "/authorize"), "https://login.foyer.example/" + id + "/v2.0/authorize"},
		{u.GraphResource(), "https://login.foyer.example/v1.0"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
