package tenancy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// Store is what the resolver reads.
type Store interface {
	GetTenant(ctx context.Context, tenantID string) (storage.Tenant, error)
	TenantIDByName(ctx context.Context, name string) (string, error)
	TenantIDByDomain(ctx context.Context, domain string) (string, error)
}

// Config configures a Resolver.
type Config struct {
	// CacheTTL bounds how stale a cached resolution may be (default 1 s;
	// negative disables the cache).
	CacheTTL time.Duration
	// MaxEntries bounds the cache (default 10,000); when full it is cleared.
	MaxEntries int
	Clock      func() time.Time
}

// Resolver maps path segments to tenants.
type Resolver struct {
	store Store
	cfg   Config

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	tenant  storage.Tenant
	expires time.Time
}

// NewResolver returns a Resolver reading from store.
func NewResolver(store Store, cfg Config) *Resolver {
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10_000
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Resolver{store: store, cfg: cfg, cache: map[string]entry{}}
}

// Resolve returns the tenant named by segment (GUID, name or verified
// domain). It returns a fault of kind NotFound for an unknown tenant and
// storage.ErrUnavailable (wrapped) when the store cannot answer.
func (r *Resolver) Resolve(ctx context.Context, segment string) (storage.Tenant, error) {
	key := strings.ToLower(segment)
	now := r.cfg.Clock()
	if r.cfg.CacheTTL > 0 {
		r.mu.Lock()
		e, ok := r.cache[key]
		r.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e.tenant, nil
		}
	}
	t, err := r.lookup(ctx, key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return storage.Tenant{}, fault.Wrap(err, fault.NotFound, "tenantNotFound", "No tenant has this name.")
		}
		return storage.Tenant{}, err
	}
	if r.cfg.CacheTTL > 0 {
		r.mu.Lock()
		if len(r.cache) >= r.cfg.MaxEntries {
			clear(r.cache)
		}
		r.cache[key] = entry{tenant: t, expires: now.Add(r.cfg.CacheTTL)}
		r.mu.Unlock()
	}
	return t, nil
}

func (r *Resolver) lookup(ctx context.Context, key string) (storage.Tenant, error) {
	if storage.IsID(key) {
		return r.store.GetTenant(ctx, key)
	}
	if key == "" || len(key) > 253 {
		return storage.Tenant{}, storage.ErrNotFound
	}
	lookup := r.store.TenantIDByName
	if strings.Contains(key, ".") {
		lookup = r.store.TenantIDByDomain
	}
	id, err := lookup(ctx, key)
	if err != nil {
		return storage.Tenant{}, err
	}
	return r.store.GetTenant(ctx, id)
}

type tenantKey struct{}

// WithTenant returns ctx carrying t.
func WithTenant(ctx context.Context, t storage.Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// FromContext returns the tenant the request was resolved to.
func FromContext(ctx context.Context) (storage.Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(storage.Tenant)
	return t, ok
}

// URLs builds Foyer's public URLs from the configured base URL (never from
// Host headers).
type URLs struct {
	// Base is the public URL without a trailing slash.
	Base string
}

// Issuer is the tenant's issuer, B/{tenantId}/v2.0.
func (u URLs) Issuer(tenantID string) string { return u.Base + "/" + tenantID + "/v2.0" }

// TenantPath is the path of a page or endpoint under the tenant's issuer.
func (u URLs) TenantPath(tenantID, rel string) string { return u.Issuer(tenantID) + rel }

// GraphResource is the resource identifier (the aud of access tokens) of
// the Graph-style API: B/v1.0.
func (u URLs) GraphResource() string { return u.Base + "/v1.0" }
