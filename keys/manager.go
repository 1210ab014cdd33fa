package keys

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// Defaults of Config.
const (
	// DefaultKeySetTTL is how long a Manager serves a tenant's key set from
	// memory before reading it from the store again.
	DefaultKeySetTTL = 5 * time.Second
	// DefaultJWKSMaxAge is the Cache-Control max-age the JWKS endpoint is
	// expected to advertise.
	DefaultJWKSMaxAge = 10 * time.Minute
	// DefaultClockSkew is the leeway verifiers are assumed to allow on exp
	// (Microsoft.IdentityModel's default).
	DefaultClockSkew = 5 * time.Minute
	// DefaultMaxCachedTenants bounds the number of tenants whose key sets a
	// Manager keeps in memory.
	DefaultMaxCachedTenants = 10000
)

// ErrRotationPending reports that Rotate found next keys published too
// recently to promote them; the wrapping error says from when it may.
var ErrRotationPending = errors.New("keys: rotation pending: next keys not published long enough")

// ErrNoKey reports that a tenant has no usable current key for an algorithm.
var ErrNoKey = errors.New("keys: no usable signing key")

// errUnchanged aborts a compare-and-swap update that has nothing to write.
var errUnchanged = errors.New("keys: key set unchanged")

// Store is the storage the Manager needs: storage.Keys, declared here so
// that tests and other backends can provide just these two methods.
type Store interface {
	// SigningKeys returns the tenant's keys (none is not an error).
	SigningKeys(ctx context.Context, tenantID string) ([]storage.SigningKey, error)
	// UpdateSigningKeys applies fn to the current set and stores the result
	// atomically (compare-and-swap, fn may run more than once), returning
	// the stored set, fn's error, or storage.ErrConflict.
	UpdateSigningKeys(ctx context.Context, tenantID string, fn func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error)
}

// Config configures a Manager. KEK and TokenMaxLifetime are required; zero
// values of the others select the defaults.
type Config struct {
	// KEK is the 32-byte key-encryption key that seals private keys
	// (AES-256-GCM). Every instance sharing a store must use the same one.
	KEK []byte
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
	// Logger receives rotations and keys that fail authentication;
	// slog.Default() when nil.
	Logger *slog.Logger

	// TokenMaxLifetime is the longest lifetime of any token signed with
	// these keys (ID and access tokens). Required.
	TokenMaxLifetime time.Duration
	// ClockSkew is the leeway verifiers may allow past a token's exp;
	// DefaultClockSkew when zero.
	ClockSkew time.Duration
	// KeySetTTL is how long a tenant's key set is served from memory
	// (DefaultKeySetTTL when zero). It bounds how long this instance keeps
	// signing with a key another instance has just demoted, and how long
	// it takes to see a key another instance has just created.
	KeySetTTL time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS endpoint
	// (DefaultJWKSMaxAge when zero); the HTTP layer reads it back with
	// Manager.JWKSMaxAge.
	JWKSMaxAge time.Duration
	// PublishDelay is how long a next key must have been published before
	// Rotate promotes it: long enough for every verifier's cached JWKS to
	// contain it. Zero selects JWKSMaxAge + KeySetTTL.
	PublishDelay time.Duration
	// MaxCachedTenants bounds the tenants kept in memory
	// (DefaultMaxCachedTenants when zero); beyond it an arbitrary tenant
	// is evicted and read again from the store when next used.
	MaxCachedTenants int
}

// Manager creates, seals, rotates, caches and publishes tenants' signing
// keys. It is safe for concurrent use, and any number of Managers (one per
// instance) may share one store.
type Manager struct {
	store        Store
	aead         cipher.AEAD
	now          func() time.Time
	log          *slog.Logger
	ttl          time.Duration
	jwksMaxAge   time.Duration
	publishDelay time.Duration
	retain       time.Duration // how long a demoted key stays published
	maxTenants   int

	tenants  sync.Map // tenant ID -> *tenantCache
	ntenants atomic.Int64
}

// tenantCache is one tenant's in-memory state. The snapshot is read without
// locks; mu serialises store reads, updates and decryption for the tenant
// within this process, so a burst of requests after expiry reads once.
type tenantCache struct {
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
}

// New returns a Manager over store. It fails if the KEK is not 32 bytes,
// TokenMaxLifetime is not positive, or a duration is negative.
func New(store Store, cfg Config) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: nil store")
	}
	if _, err := CryptoBackend(); err != nil {
		return nil, err
	}
	aead, err := newAEAD(cfg.KEK)
	if err != nil {
		return nil, err
	}
	if cfg.TokenMaxLifetime <= 0 {
		return nil, errors.New("keys: Config.TokenMaxLifetime must be positive")
	}
	for _, d := range []time.Duration{cfg.ClockSkew, cfg.KeySetTTL, cfg.JWKSMaxAge, cfg.PublishDelay} {
		if d < 0 {
			return nil, errors.New("keys: negative duration in Config")
		}
	}
	m := &Manager{
		store:        store,
		aead:         aead,
		now:          cfg.Clock,
		log:          cfg.Logger,
		ttl:          cmp(cfg.KeySetTTL, DefaultKeySetTTL),
		jwksMaxAge:   cmp(cfg.JWKSMaxAge, DefaultJWKSMaxAge),
		publishDelay: cfg.PublishDelay,
		maxTenants:   cfg.MaxCachedTenants,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.publishDelay == 0 {
		m.publishDelay = m.jwksMaxAge + m.ttl
	}
	if m.maxTenants <= 0 {
		m.maxTenants = DefaultMaxCachedTenants
	}
	// A demoted key may still sign on instances whose cached set predates
	// the rotation (up to KeySetTTL), and each such token lives for up to
	// TokenMaxLifetime, checked with up to ClockSkew of leeway.
	m.retain = cfg.TokenMaxLifetime + m.ttl + cmp(cfg.ClockSkew, DefaultClockSkew)
	return m, nil
}

func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// JWKSMaxAge returns the max-age the JWKS endpoint should advertise; the
// default PublishDelay assumes it.
func (m *Manager) JWKSMaxAge() time.Duration { return m.jwksMaxAge }

// PublishDelay returns how long a next key is published before Rotate
// promotes it.
func (m *Manager) PublishDelay() time.Duration { return m.publishDelay }

// Retention returns how long a demoted key stays published:
// TokenMaxLifetime + KeySetTTL + ClockSkew.
func (m *Manager) Retention() time.Duration { return m.retain }

// EnsureKeys gives the tenant a current RS256 and a current ES256 key if it
// lacks usable ones, in one compare-and-swap update: instances racing on a
// new tenant create exactly one key per algorithm, and the losers adopt it.
// It returns an error wrapping ErrUnseal, and writes nothing, if the tenant
// has keys and none opens under this Manager's KEK (a wrong KEK).
func (m *Manager) EnsureKeys(ctx context.Context, tenantID string) error {
	if tenantID == "" {
		return errors.New("keys: empty tenant ID")
	}
	tc := m.cacheFor(tenantID)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	_, err := m.ensureLocked(ctx, tenantID, tc)
	return err
}

func (m *Manager) ensureLocked(ctx context.Context, tenantID string, tc *tenantCache) (*snapshot, error) {
	set, err := m.store.SigningKeys(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("keys: read tenant %s keys: %w", tenantID, err)
	}
	if s := m.installLocked(tenantID, tc, set); len(s.current) == len(algorithms) {
		return s, nil
	}
	// With a wrong KEK, fail before paying for key generation: Signer calls
	// this on every request while the tenant has no usable key.
	if _, _, err := m.authentic(tenantID, set); err != nil {
		return nil, err
	}
	// Generate outside the update: RSA takes tens of milliseconds and the
	// update function may run more than once.
	fresh, err := m.generateAll(tenantID)
	if err != nil {
		return nil, err
	}
	var dropped error
	stored, err := m.store.UpdateSigningKeys(ctx, tenantID, func(set []storage.SigningKey) ([]storage.SigningKey, error) {
		out, bad, err := m.authentic(tenantID, set)
		if err != nil {
			return nil, err
		}
		dropped = bad
		if hasAllCurrent(out) && len(out) == len(set) {
			return nil, errUnchanged
		}
		now := m.now()
		for _, alg := range algorithms {
			if find(out, alg, storage.KeyCurrent, false) >= 0 {
				continue
			}
			if n := find(out, alg, storage.KeyNext, true); n >= 0 {
				out[n].Status = storage.KeyCurrent
				continue
			}
			k := fresh[alg]
			k.Status, k.CreatedAt = storage.KeyCurrent, now
			out = append(out, k)
		}
		return out, nil
	})
	if errors.Is(err, errUnchanged) {
		stored, err = m.store.SigningKeys(ctx, tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: create tenant %s keys: %w", tenantID, err)
	}
	m.logDropped(ctx, tenantID, dropped)
	return m.installLocked(tenantID, tc, stored), nil
}

// Rotate advances the tenant's keys by one phase, per algorithm, in one
// compare-and-swap update that also deletes previous keys past NotAfter:
//
//   - with no next key, it creates one: published in the JWKS, not signing;
//   - with a next key published at least PublishDelay ago, it promotes it to
//     current and demotes the current key to previous, published until
//     now + Retention and with its private key erased;
//   - with a younger next key it changes nothing and, if no algorithm
//     advanced, returns an error wrapping ErrRotationPending that says when
//     to run it again.
//
// An operator therefore rotates by running Rotate twice, at least
// PublishDelay apart. Concurrent calls from many instances are safe: each
// phase happens once, and no key is lost.
func (m *Manager) Rotate(ctx context.Context, tenantID string) error {
	return m.rotate(ctx, tenantID, false)
}

// RotateNow does both phases of Rotate at once: it promotes the next key if
// there is one (whatever its age) or a new key otherwise, and demotes the
// current key. Relying parties whose cached JWKS predates the call reject
// tokens signed with the new key until they fetch the JWKS again; use it
// when a key must be replaced at once and the operator accepts that.
func (m *Manager) RotateNow(ctx context.Context, tenantID string) error {
	return m.rotate(ctx, tenantID, true)
}

func (m *Manager) rotate(ctx context.Context, tenantID string, immediate bool) error {
	if tenantID == "" {
		return errors.New("keys: empty tenant ID")
	}
	fresh, err := m.generateAll(tenantID)
	if err != nil {
		return err
	}
	tc := m.cacheFor(tenantID)
	tc.mu.Lock()
	defer tc.mu.Unlock()

	var (
		pending  time.Time // earliest promotion time of a waiting next key
		changes  []string  // what happened, for the log
		advanced bool      // some algorithm went through a phase
		dropped  error     // keys deleted because they fail authentication
	)
	stored, err := m.store.UpdateSigningKeys(ctx, tenantID, func(set []storage.SigningKey) ([]storage.SigningKey, error) {
		pending, changes, advanced = time.Time{}, nil, false // fn may run more than once
		valid, bad, err := m.authentic(tenantID, set)
		if err != nil {
			return nil, err
		}
		dropped = bad
		now := m.now()
		out := make([]storage.SigningKey, 0, len(set)+len(algorithms))
		for _, k := range valid {
			if k.Status == storage.KeyPrevious && !now.Before(k.NotAfter) {
				changes = append(changes, "pruned "+k.ID)
				continue
			}
			out = append(out, k)
		}
		pruned := len(out) != len(set)
		for _, alg := range algorithms {
			hasCurrent := find(out, alg, storage.KeyCurrent, false) >= 0
			next := find(out, alg, storage.KeyNext, true)
			switch {
			case next < 0 && (immediate || !hasCurrent):
				out = m.demote(tenantID, out, alg, now)
				k := fresh[alg]
				k.Status, k.CreatedAt = storage.KeyCurrent, now
				out = append(out, k)
				changes = append(changes, "created current "+k.ID)
				advanced = true
			case next < 0:
				k := fresh[alg]
				k.Status, k.CreatedAt = storage.KeyNext, now
				out = append(out, k)
				changes = append(changes, "published next "+k.ID)
				advanced = true
			case immediate || !hasCurrent || !now.Before(out[next].CreatedAt.Add(m.publishDelay)):
				out = m.demote(tenantID, out, alg, now)
				out[next].Status = storage.KeyCurrent
				changes = append(changes, "promoted "+out[next].ID)
				advanced = true
			default:
				at := out[next].CreatedAt.Add(m.publishDelay)
				if pending.IsZero() || at.Before(pending) {
					pending = at
				}
			}
		}
		if !advanced && !pruned {
			return nil, errUnchanged
		}
		return out, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		stored, err = m.store.SigningKeys(ctx, tenantID)
		if err == nil {
			m.installLocked(tenantID, tc, stored)
		}
	case err == nil:
		m.logDropped(ctx, tenantID, dropped)
		m.installLocked(tenantID, tc, stored)
		m.log.InfoContext(ctx, "keys: rotated signing keys", "tenant", tenantID, "changes", changes)
	}
	if err != nil {
		return fmt.Errorf("keys: rotate tenant %s keys: %w", tenantID, err)
	}
	if !pending.IsZero() && !advanced {
		return fmt.Errorf("%w: run rotate again after %s", ErrRotationPending, pending.UTC().Format(time.RFC3339))
	}
	return nil
}

// demote turns every current key of alg in set into a previous key: it stays
// published until now + Retention, and its sealed private key is replaced
// by a seal of nothing, which still authenticates its public key. The caller
// has authenticated set, so demote never vouches for a forged key.
func (m *Manager) demote(tenantID string, set []storage.SigningKey, alg string, now time.Time) []storage.SigningKey {
	for i, k := range set {
		if k.Algorithm != alg || k.Status != storage.KeyCurrent {
			continue
		}
		k.Status = storage.KeyPrevious
		k.NotAfter = now.Add(m.retain)
		k.Sealed = seal(m.aead, tenantID, k.ID, k.Algorithm, k.PublicJWK, nil)
		set[i] = k
	}
	return set
}

// generateAll generates one key per algorithm, for an update to pick from.
func (m *Manager) generateAll(tenantID string) (map[string]storage.SigningKey, error) {
	fresh := make(map[string]storage.SigningKey, len(algorithms))
	for _, alg := range algorithms {
		k, err := m.newStoredKey(tenantID, alg)
		if err != nil {
			return nil, err
		}
		fresh[alg] = k
	}
	return fresh, nil
}

// authentic returns the keys of set that belong to tenantID and open under
// this Manager's KEK (with a known algorithm and status), for an update to
// keep, and why the others are dropped. If set has keys and none is
// authentic, the KEK is wrong (or the whole set forged): it returns an error
// wrapping ErrUnseal, so the update stops instead of writing keys the other
// instances cannot read.
func (m *Manager) authentic(tenantID string, set []storage.SigningKey) (kept []storage.SigningKey, dropped, err error) {
	kept = make([]storage.SigningKey, 0, len(set)+len(algorithms))
	var bad []error
	for _, k := range set {
		if err := m.authenticate(tenantID, k); err != nil {
			bad = append(bad, err)
			continue
		}
		kept = append(kept, k)
	}
	if len(bad) > 0 && len(kept) == 0 {
		return nil, nil, fmt.Errorf("keys: tenant %s: no key opens under this key-encryption key: %w", tenantID, errors.Join(bad...))
	}
	return kept, errors.Join(bad...), nil
}

func (m *Manager) logDropped(ctx context.Context, tenantID string, dropped error) {
	if dropped != nil {
		m.log.ErrorContext(ctx, "keys: deleted signing keys that fail authentication", "tenant", tenantID, "error", dropped)
	}
}

// authenticate returns an error wrapping ErrUnseal unless k is a key of
// tenantID, of a known algorithm and status, whose seal opens under the KEK
// for its tenant, kid, algorithm and public JWK.
func (m *Manager) authenticate(tenantID string, k storage.SigningKey) error {
	if _, ok := statusRank[k.Status]; !ok || !supported(k.Algorithm) {
		return fmt.Errorf("tenant %s key %s: unknown status %q or algorithm %q: %w", tenantID, k.ID, k.Status, k.Algorithm, ErrUnseal)
	}
	if k.TenantID != tenantID {
		return fmt.Errorf("tenant %s key %s: stored for tenant %q: %w", tenantID, k.ID, k.TenantID, ErrUnseal)
	}
	pt, err := unseal(m.aead, tenantID, k.ID, k.Algorithm, k.PublicJWK, k.Sealed)
	if err != nil {
		return fmt.Errorf("tenant %s key %s: %w", tenantID, k.ID, err)
	}
	clear(pt)
	return nil
}

// hasAllCurrent reports whether set has a current key for every algorithm.
func hasAllCurrent(set []storage.SigningKey) bool {
	for _, alg := range algorithms {
		if find(set, alg, storage.KeyCurrent, false) < 0 {
			return false
		}
	}
	return true
}

// find returns the index of the newest (or, with oldest, the oldest) key of
// alg with status in set, or -1.
func find(set []storage.SigningKey, alg, status string, oldest bool) int {
	j := -1
	for i, k := range set {
		if k.Algorithm != alg || k.Status != status {
			continue
		}
		if j < 0 || (oldest && k.CreatedAt.Before(set[j].CreatedAt)) || (!oldest && k.CreatedAt.After(set[j].CreatedAt)) {
			j = i
		}
	}
	return j
}

// cacheFor returns the tenant's cache entry, creating it (and evicting an
// arbitrary other tenant when over MaxCachedTenants) if needed.
func (m *Manager) cacheFor(tenantID string) *tenantCache {
	if v, ok := m.tenants.Load(tenantID); ok {
		return v.(*tenantCache)
	}
	v, loaded := m.tenants.LoadOrStore(tenantID, &tenantCache{})
	if !loaded && m.ntenants.Add(1) > int64(m.maxTenants) {
		m.tenants.Range(func(k, _ any) bool {
			if k == tenantID {
				return true
			}
			if _, ok := m.tenants.LoadAndDelete(k); ok {
				m.ntenants.Add(-1)
			}
			return false
		})
	}
	return v.(*tenantCache)
}
