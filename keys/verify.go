package keys

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrInvalidToken reports a JWS that a KeySet refuses: malformed, signed
// with another algorithm than RS256 or ES256, carrying its own key or a key
// URL in its header, naming a kid the tenant does not publish, or with a
// signature that does not verify. Callers answer 401.
var ErrInvalidToken = errors.New("keys: invalid token signature")

// allowedAlgs is the only algorithms a KeySet accepts. "none" and HS* are
// refused when parsing, before any key is looked up.
var allowedAlgs = []jose.SignatureAlgorithm{RS256, ES256}

// refusedHeaders are header parameters a KeySet refuses, whatever their
// value: keys and key references come only from the tenant's own set by kid,
// and no critical extension is understood.
var refusedHeaders = []jose.HeaderKey{"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64"}

// missRefresh is the minimum age of a cached key set before an unknown kid
// makes a KeySet read the store again, so random kids cannot turn every
// request into a store read.
const missRefresh = time.Second

// KeySet verifies JWS signatures against one tenant's published keys. It
// always uses the Manager's current view of the set, so it may be kept and
// shared; it is safe for concurrent use. Its VerifySignature method
// satisfies zitadel/oidc's oidc.KeySet.
type KeySet struct {
	m        *Manager
	tenantID string
}

// KeySet returns a verifier of tokens signed with the tenant's keys. It
// loads the tenant's key set, so it returns the store's error if that fails.
func (m *Manager) KeySet(ctx context.Context, tenantID string) (*KeySet, error) {
	if _, _, err := m.load(ctx, tenantID); err != nil {
		return nil, err
	}
	return &KeySet{m: m, tenantID: tenantID}, nil
}

// Verify parses a JWS in compact serialisation, verifies it with
// VerifySignature and returns its payload and protected header (whose typ
// tells an access token from an ID token). It checks the signature only:
// claims (iss, aud, exp, ...) are the caller's. It returns an error wrapping
// ErrInvalidToken, or the store's error when an unknown kid made it read
// the key set again and that failed.
func (ks *KeySet) Verify(ctx context.Context, token string) ([]byte, jose.Header, error) {
	jws, err := jose.ParseSignedCompact(token, allowedAlgs)
	if err != nil {
		return nil, jose.Header{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	payload, err := ks.VerifySignature(ctx, jws)
	if err != nil {
		return nil, jose.Header{}, err
	}
	return payload, jws.Signatures[0].Protected, nil
}

// VerifySignature verifies a parsed JWS and returns its payload. The JWS
// must have exactly one signature, no unprotected header, alg RS256 or
// ES256 equal to the alg of the key its kid names in the tenant's published
// set, and none of the jku, jwk, x5u, x5c, x5t, x5t#S256, crit and b64
// header parameters. An unknown kid makes it read the tenant's set again
// (at most once a second), so a key another instance has just created is
// found. Errors are as for Verify.
func (ks *KeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if jws == nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrInvalidToken)
	}
	sig := jws.Signatures[0]
	if err := checkHeader(sig); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	p, err := ks.lookup(ctx, sig.Protected.KeyID)
	if err != nil {
		return nil, err
	}
	if sig.Protected.Algorithm != p.stored.Algorithm {
		return nil, fmt.Errorf("%w: alg %q does not match key %s (%s)", ErrInvalidToken, sig.Protected.Algorithm, p.stored.ID, p.stored.Algorithm)
	}
	payload, err := jws.Verify(p.jwk.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return payload, nil
}

// checkHeader enforces VerifySignature's header rules.
func checkHeader(sig jose.Signature) error {
	if !headerEmpty(sig.Unprotected) {
		return errors.New("unprotected header parameters")
	}
	h := sig.Protected
	if h.Algorithm != RS256 && h.Algorithm != ES256 {
		return fmt.Errorf("alg %q not allowed", h.Algorithm)
	}
	if h.KeyID == "" {
		return errors.New("no kid")
	}
	if h.JSONWebKey != nil {
		return errors.New("header parameter jwk not allowed")
	}
	if hasCertificates(h) {
		return errors.New("header parameter x5c not allowed")
	}
	for _, k := range refusedHeaders {
		if _, ok := h.ExtraHeaders[k]; ok {
			return fmt.Errorf("header parameter %s not allowed", k)
		}
	}
	return nil
}

func headerEmpty(h jose.Header) bool {
	return h.KeyID == "" && h.Algorithm == "" && h.Nonce == "" && h.JSONWebKey == nil &&
		len(h.ExtraHeaders) == 0 && !hasCertificates(h)
}

// noRoots is an empty, never modified root pool.
var noRoots = x509.NewCertPool()

// hasCertificates reports whether h had an x5c parameter; go-jose keeps the
// parsed chain unexported and reports its absence with ErrMissingX5cHeader.
// With no roots, the check fails fast when a chain is present.
func hasCertificates(h jose.Header) bool {
	_, err := h.Certificates(x509.VerifyOptions{Roots: noRoots})
	return !errors.Is(err, jose.ErrMissingX5cHeader)
}

// lookup finds the published key named kid, reading the set again if kid is
// unknown and the cached set is at least missRefresh old.
func (ks *KeySet) lookup(ctx context.Context, kid string) (published, error) {
	tc, s, err := ks.m.load(ctx, ks.tenantID)
	if err != nil {
		return published{}, err
	}
	if _, ok := s.byKID[kid]; !ok {
		tc.mu.Lock()
		s = tc.snap.Load()
		if now := ks.m.now(); s == nil || now.Sub(s.fetched) >= missRefresh || now.Before(s.fetched) {
			s, err = ks.m.refreshLocked(ctx, ks.tenantID, tc)
		}
		tc.mu.Unlock()
		if err != nil {
			return published{}, err
		}
	}
	i, ok := s.byKID[kid]
	if !ok {
		return published{}, fmt.Errorf("%w: kid %q is not a key of this tenant", ErrInvalidToken, kid)
	}
	if !s.visible(i, ks.m.now()) {
		return published{}, fmt.Errorf("%w: key %q is no longer published", ErrInvalidToken, kid)
	}
	return s.keys[i], nil
}
