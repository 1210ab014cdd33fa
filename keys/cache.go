package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/storage"
)

// published is one authenticated key of a tenant's set.
type published struct {
	stored storage.SigningKey
	jwk    jose.JSONWebKey // public, checked against stored
}

// snapshot is a tenant's key set as read from the store at fetched, ready
// to serve. It is immutable once stored in a tenantCache; adding a decrypted
// signer makes a copy.
type snapshot struct {
	fetched time.Time
	keys    []published           // in publication order: current, next, previous
	byKID   map[string]int        // kid -> index in keys
	current map[string]int        // alg -> index of the current key in keys
	signers map[string]SigningKey // decrypted current keys, by kid
	// rejected explains the stored keys left out, if any.
	rejected error
	// jwks is the JSON set of the keys visible at fetched; it stays exact
	// until jwksUntil (the first NotAfter among its previous keys; zero if
	// it has none).
	jwks      []byte
	jwksUntil time.Time
}

// visible reports whether keys[i] is published at now: next and current
// keys always, previous keys until NotAfter.
func (s *snapshot) visible(i int, now time.Time) bool {
	k := s.keys[i].stored
	return k.Status != storage.KeyPrevious || now.Before(k.NotAfter)
}

// fresh reports whether s may still be served at now.
func (m *Manager) fresh(s *snapshot, now time.Time) bool {
	d := now.Sub(s.fetched)
	return d >= 0 && d < m.ttl
}

// load returns the tenant's snapshot, reading the store if the cached one
// is older than KeySetTTL. Concurrent callers in this process wait for one
// read instead of each doing their own.
func (m *Manager) load(ctx context.Context, tenantID string) (*tenantCache, *snapshot, error) {
	if tenantID == "" {
		return nil, nil, errors.New("keys: empty tenant ID")
	}
	tc := m.cacheFor(tenantID)
	if s := tc.snap.Load(); s != nil && m.fresh(s, m.now()) {
		return tc, s, nil
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if s := tc.snap.Load(); s != nil && m.fresh(s, m.now()) {
		return tc, s, nil
	}
	s, err := m.refreshLocked(ctx, tenantID, tc)
	return tc, s, err
}

// refreshLocked reads the tenant's set from the store and caches it; the
// caller holds tc.mu.
func (m *Manager) refreshLocked(ctx context.Context, tenantID string, tc *tenantCache) (*snapshot, error) {
	set, err := m.store.SigningKeys(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("keys: read tenant %s keys: %w", tenantID, err)
	}
	return m.installLocked(tenantID, tc, set), nil
}

// installLocked builds a snapshot of set, keeps the decrypted signers of the
// previous snapshot that are still current, and caches it.
func (m *Manager) installLocked(tenantID string, tc *tenantCache, set []storage.SigningKey) *snapshot {
	old := tc.snap.Load()
	s := m.build(tenantID, set, m.now())
	for _, i := range s.current {
		kid := s.keys[i].stored.ID
		if old != nil {
			if sk, ok := old.signers[kid]; ok {
				s.signers[kid] = sk
			}
		}
	}
	if s.rejected != nil && (old == nil || old.rejected == nil || old.rejected.Error() != s.rejected.Error()) {
		m.log.Error("keys: signing keys left out of the tenant's key set", "tenant", tenantID, "error", s.rejected)
	}
	tc.snap.Store(s)
	return s
}

var statusRank = map[string]int{storage.KeyCurrent: 0, storage.KeyNext: 1, storage.KeyPrevious: 2}

// build authenticates and orders set. Keys that do not open under the KEK,
// belong to another tenant, or are malformed are left out and reported in
// rejected: a writer without the KEK cannot add a key that verifies.
func (m *Manager) build(tenantID string, set []storage.SigningKey, now time.Time) *snapshot {
	s := &snapshot{
		fetched: now,
		keys:    make([]published, 0, len(set)),
		byKID:   make(map[string]int, len(set)),
		current: make(map[string]int, len(algorithms)),
		signers: make(map[string]SigningKey, len(algorithms)),
	}
	var rejected []error
	seen := make(map[string]bool, len(set))
	for _, k := range set {
		if seen[k.ID] {
			rejected = append(rejected, fmt.Errorf("tenant %s key %s: duplicate kid", tenantID, k.ID))
			continue
		}
		if err := m.authenticate(tenantID, k); err != nil {
			rejected = append(rejected, err)
			continue
		}
		jwk, err := parsePublic(k)
		if err != nil {
			rejected = append(rejected, fmt.Errorf("tenant %s key %s: %w", tenantID, k.ID, err))
			continue
		}
		seen[k.ID] = true
		s.keys = append(s.keys, published{stored: k, jwk: jwk})
	}
	s.rejected = errors.Join(rejected...)
	slices.SortFunc(s.keys, func(a, b published) int {
		x, y := a.stored, b.stored
		if c := statusRank[x.Status] - statusRank[y.Status]; c != 0 {
			return c
		}
		if x.Algorithm != y.Algorithm {
			return slices.Index(algorithms[:], x.Algorithm) - slices.Index(algorithms[:], y.Algorithm)
		}
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 { // newest first
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	for i, p := range s.keys {
		s.byKID[p.stored.ID] = i
		if _, ok := s.current[p.stored.Algorithm]; !ok && p.stored.Status == storage.KeyCurrent {
			s.current[p.stored.Algorithm] = i
		}
	}
	s.jwks, s.jwksUntil = s.marshalJWKS(now)
	return s
}

// marshalJWKS returns the JSON set of the keys visible at now and the first
// time at which that set changes (zero if never, short of a rotation).
func (s *snapshot) marshalJWKS(now time.Time) ([]byte, time.Time) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(s.keys))}
	var until time.Time
	for i, p := range s.keys {
		if !s.visible(i, now) {
			continue
		}
		set.Keys = append(set.Keys, p.jwk)
		if p.stored.Status == storage.KeyPrevious && (until.IsZero() || p.stored.NotAfter.Before(until)) {
			until = p.stored.NotAfter
		}
	}
	b, err := json.Marshal(set)
	if err != nil { // public RSA and P-256 keys always marshal
		panic("keys: marshal JWKS: " + err.Error())
	}
	return b, until
}

// Signer returns the tenant's current key for alg ("RS256" or "ES256"),
// decrypted. Which key is current comes from the tenant's key set, cached
// for at most KeySetTTL: after another instance promotes a key, this one
// may sign with the demoted key for up to KeySetTTL, which Retention covers.
// Decrypted keys are cached by tenant and kid for as long as they are
// current, so only the first call after a rotation pays for unsealing and
// parsing (about 180 µs for RSA, a fifth of an RS256 signature, and 20 µs
// for P-256, almost half of an ES256 one); a warm call costs about 100 ns.
//
// A tenant without keys gets them (EnsureKeys) on first use. Signer returns
// an error wrapping ErrUnsupportedAlgorithm for another alg, ErrNoKey (and
// the reason, such as ErrUnseal) when no current key can be used, or the
// store's error.
func (m *Manager) Signer(ctx context.Context, tenantID, alg string) (SigningKey, error) {
	if !supported(alg) {
		return SigningKey{}, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	tc, s, err := m.load(ctx, tenantID)
	if err != nil {
		return SigningKey{}, err
	}
	if i, ok := s.current[alg]; ok {
		if sk, ok := s.signers[s.keys[i].stored.ID]; ok {
			return sk, nil
		}
	}
	return m.decryptCurrent(ctx, tenantID, alg, tc)
}

// decryptCurrent is Signer's slow path: create the tenant's keys if it has
// none, and decrypt the current key once for every caller in this process.
func (m *Manager) decryptCurrent(ctx context.Context, tenantID, alg string, tc *tenantCache) (SigningKey, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	s := tc.snap.Load()
	var err error
	if s == nil || !m.fresh(s, m.now()) {
		if s, err = m.refreshLocked(ctx, tenantID, tc); err != nil {
			return SigningKey{}, err
		}
	}
	i, ok := s.current[alg]
	if !ok {
		if s, err = m.ensureLocked(ctx, tenantID, tc); err != nil {
			return SigningKey{}, fmt.Errorf("%w: %w", ErrNoKey, err)
		}
		if i, ok = s.current[alg]; !ok {
			if s.rejected != nil {
				return SigningKey{}, fmt.Errorf("%w: tenant %s has no current %s key: %w", ErrNoKey, tenantID, alg, s.rejected)
			}
			return SigningKey{}, fmt.Errorf("%w: tenant %s has no current %s key", ErrNoKey, tenantID, alg)
		}
	}
	p := s.keys[i]
	if sk, ok := s.signers[p.stored.ID]; ok {
		return sk, nil
	}
	sk, err := m.decrypt(tenantID, p.stored, p.jwk)
	if err != nil {
		return SigningKey{}, fmt.Errorf("%w: %w", ErrNoKey, err)
	}
	next := *s
	next.signers = maps.Clone(s.signers)
	next.signers[sk.kid] = sk
	tc.snap.Store(&next)
	return sk, nil
}

// PublicKeys returns the tenant's published keys: current, then next, then
// previous keys until their NotAfter; RS256 before ES256 within each. The
// set is cached for at most KeySetTTL. A tenant without keys has none (this
// method does not create them).
func (m *Manager) PublicKeys(ctx context.Context, tenantID string) ([]jose.JSONWebKey, error) {
	_, s, err := m.load(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	out := make([]jose.JSONWebKey, 0, len(s.keys))
	for i, p := range s.keys {
		if s.visible(i, now) {
			out = append(out, p.jwk)
		}
	}
	return out, nil
}

// JWKS returns PublicKeys as a JSON Web Key Set, {"keys":[...]}, each key
// with "kid", "alg" and "use":"sig". The bytes are computed once per key-set
// refresh; the caller owns the returned slice.
func (m *Manager) JWKS(ctx context.Context, tenantID string) ([]byte, error) {
	_, s, err := m.load(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	if !now.Before(s.fetched) && (s.jwksUntil.IsZero() || now.Before(s.jwksUntil)) {
		return bytes.Clone(s.jwks), nil
	}
	b, _ := s.marshalJWKS(now)
	return b, nil
}
