package bearer

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/keys"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// Type is the JOSE typ header of access tokens (RFC 9068).
const Type = "at+jwt"

// Algorithms accepted for signatures.
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// Keys provides a tenant's signing keys.
type Keys interface {
	// Signer returns the tenant's current signing key for alg ("RS256" or
	// "ES256").
	Signer(ctx context.Context, tenantID, alg string) (keys.SigningKey, error)
	// PublicKeys returns the tenant's published verification keys.
	PublicKeys(ctx context.Context, tenantID string) ([]jose.JSONWebKey, error)
}

// Revocations answers whether a token's grant is alive and its jti
// unrevoked (storage.Grants), alone or with the token's user in the same
// round trip.
type Revocations interface {
	TokenActive(ctx context.Context, tenantID, grantID, jti string) (bool, error)
	TokenUser(ctx context.Context, tenantID, grantID, jti, userTenantID, userID string) (storage.User, bool, error)
}

// Claims are the claims of an access token.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	Expiry    int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ID        string `json:"jti"`
	ClientID  string `json:"client_id"`
	AZP       string `json:"azp"`
	Scope     string `json:"scp"`
	ObjectID  string `json:"oid"`
	TenantID  string `json:"tid"`
	AuthTime  int64  `json:"auth_time,omitempty"`
	Version   string `json:"ver"`
}

// GrantID returns the grant the token was issued under (from its jti).
func (c Claims) GrantID() string {
	g, _, _ := strings.Cut(c.ID, ".")
	return g
}

// Scopes returns scp as a list.
func (c Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasScope reports whether the token carries scope s.
func (c Claims) HasScope(s string) bool {
	for _, x := range c.Scopes() {
		if x == s {
			return true
		}
	}
	return false
}

// Expires returns exp as a time.
func (c Claims) Expires() time.Time { return time.Unix(c.Expiry, 0) }

// Config configures a Minter and a Verifier.
type Config struct {
	Keys        Keys
	Revocations Revocations
	// Issuer returns the issuer of a tenant's tokens.
	Issuer func(tenantID string) string
	// Audience is the API's resource identifier.
	Audience string
	// Lifetime of access tokens (default 1 h).
	Lifetime time.Duration
	// Leeway tolerated on exp and nbf when verifying (default 0).
	Leeway time.Duration
	Clock  func() time.Time
}

// Tokens mints and verifies access tokens.
type Tokens struct {
	cfg Config

	// verified remembers tokens whose signature checked out, keyed by the
	// whole token, so a token presented again skips the signature (~70 µs
	// for ES256); its claims and revocation are still checked every time.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	tenantID string
	claims   Claims
}

// maxTokenLen bounds the length of a token Foyer reads.
const maxTokenLen = 8192

// maxVerified bounds the cache of verified tokens (each under 1 KiB with
// its claims); when full it is cleared.
const maxVerified = 20_000

// New returns Tokens for cfg.
func New(cfg Config) *Tokens {
	if cfg.Lifetime == 0 {
		cfg.Lifetime = time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Tokens{cfg: cfg, verified: map[string]verifiedToken{}}
}

// Lifetime returns the access-token lifetime.
func (t *Tokens) Lifetime() time.Duration { return t.cfg.Lifetime }

// Grant describes what a new token is for.
type Grant struct {
	// TenantID is the issuer's tenant; HomeTenantID the user's when it
	// differs (the common issuer), which becomes the tid claim.
	TenantID     string
	HomeTenantID string
	GrantID      string
	UserID       string
	ClientID     string
	Scopes       []string
	AuthTime     time.Time
	// Alg is "ES256" (default when empty) or "RS256".
	Alg string
}

// Mint signs a new access token and returns it with its claims.
func (t *Tokens) Mint(ctx context.Context, g Grant) (string, Claims, error) {
	now := t.cfg.Clock().Truncate(time.Second)
	var rnd [16]byte
	rand.Read(rnd[:])
	c := Claims{
		Issuer:    t.cfg.Issuer(g.TenantID),
		Subject:   g.UserID,
		Audience:  t.cfg.Audience,
		IssuedAt:  now.Unix(),
		NotBefore: now.Unix(),
		Expiry:    now.Add(t.cfg.Lifetime).Unix(),
		ID:        g.GrantID + "." + base64.RawURLEncoding.EncodeToString(rnd[:]),
		ClientID:  g.ClientID,
		AZP:       g.ClientID,
		Scope:     strings.Join(g.Scopes, " "),
		ObjectID:  g.UserID,
		TenantID:  cmp.Or(g.HomeTenantID, g.TenantID),
		Version:   "2.0",
	}
	if !g.AuthTime.IsZero() {
		c.AuthTime = g.AuthTime.Unix()
	}
	alg := jose.ES256
	if g.Alg == string(jose.RS256) {
		alg = jose.RS256
	}
	key, err := t.cfg.Keys.Signer(ctx, g.TenantID, string(alg))
	if err != nil {
		return "", Claims{}, fmt.Errorf("bearer: signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: key.SignatureAlgorithm(),
		Key:       jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()},
	}, (&jose.SignerOptions{}).WithType(Type))
	if err != nil {
		return "", Claims{}, fmt.Errorf("bearer: signer: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", Claims{}, err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", Claims{}, fmt.Errorf("bearer: sign: %w", err)
	}
	s, err := jws.CompactSerialize()
	return s, c, err
}

// ErrInvalid is wrapped by every verification failure of the token itself
// (as opposed to the store being unavailable).
var ErrInvalid = errors.New("invalid access token")

func invalid(msg string) error {
	return fault.Wrap(ErrInvalid, fault.Unauthenticated, "InvalidAuthenticationToken", msg)
}

// Verify checks raw as an access token of tenantID: signature by a
// published key of the tenant, typ, issuer, audience, time, and (unless
// skipRevocation) that its grant is alive and its jti unrevoked. Failures
// of the token are faults of kind Unauthenticated wrapping ErrInvalid.
func (t *Tokens) Verify(ctx context.Context, tenantID, raw string) (Claims, error) {
	c, err := t.authentic(ctx, tenantID, raw)
	if err != nil {
		return Claims{}, err
	}
	ok, err := t.cfg.Revocations.TokenActive(ctx, tenantID, c.GrantID(), c.ID)
	if err != nil {
		return Claims{}, err
	}
	if !ok {
		return Claims{}, invalid("The access token has been revoked.")
	}
	return c, nil
}

// VerifyUser is Verify for an API that acts as the token's user: the
// revocation check also reads the user (sub) from the user's home tenant
// (tid), in one round trip. The token is invalid when its user no longer
// exists or is disabled.
func (t *Tokens) VerifyUser(ctx context.Context, tenantID, raw string) (Claims, storage.User, error) {
	c, err := t.authentic(ctx, tenantID, raw)
	if err != nil {
		return Claims{}, storage.User{}, err
	}
	if !storage.IsID(c.TenantID) {
		return Claims{}, storage.User{}, invalid("The access token was issued for an unknown tenant.")
	}
	u, ok, err := t.cfg.Revocations.TokenUser(ctx, tenantID, c.GrantID(), c.ID, c.TenantID, c.Subject)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Claims{}, storage.User{}, invalid("The user of the access token no longer exists.")
	case err != nil:
		return Claims{}, storage.User{}, err
	case !ok:
		return Claims{}, storage.User{}, invalid("The access token has been revoked.")
	case !u.AccountEnabled:
		return Claims{}, storage.User{}, invalid("The user's account is disabled.")
	}
	return c, u, nil
}

// authentic returns the claims of raw if it is signed by a published key of
// the tenant and its claims hold: everything Verify checks but revocation.
func (t *Tokens) authentic(ctx context.Context, tenantID, raw string) (Claims, error) {
	c, err := t.signed(ctx, tenantID, raw)
	if err != nil {
		return Claims{}, err
	}
	if err := t.checkClaims(tenantID, c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// Peek returns the iss and tid claims of raw without verifying it, for
// choosing the tenant whose keys verify it (Verify and VerifyUser then
// check the verified claims against that choice). A token verified before
// answers from memory.
func (t *Tokens) Peek(raw string) (iss, tid string, ok bool) {
	if v, ok := t.remembered(raw); ok {
		return v.claims.Issuer, v.claims.TenantID, true
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(raw) > maxTokenLen {
		return "", "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", false
	}
	var c struct {
		Issuer   string `json:"iss"`
		TenantID string `json:"tid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", "", false
	}
	return c.Issuer, c.TenantID, true
}

// remembered returns the verified token raw, if it is in the cache.
func (t *Tokens) remembered(raw string) (verifiedToken, bool) {
	t.mu.Lock()
	v, ok := t.verified[raw]
	t.mu.Unlock()
	return v, ok
}

// signed returns the claims of a token signed by a published key of the
// tenant, from the cache when this token was verified before. Keys stay
// published until every token they signed has expired, so a cached
// signature stays valid for the token's life.
func (t *Tokens) signed(ctx context.Context, tenantID, raw string) (Claims, error) {
	if v, ok := t.remembered(raw); ok && v.tenantID == tenantID {
		return v.claims, nil
	}
	c, err := t.verifySignature(ctx, tenantID, raw)
	if err != nil {
		return Claims{}, err
	}
	if t.cfg.Clock().Before(c.Expires()) {
		t.mu.Lock()
		if len(t.verified) >= maxVerified {
			clear(t.verified)
		}
		t.verified[strings.Clone(raw)] = verifiedToken{tenantID: tenantID, claims: c}
		t.mu.Unlock()
	}
	return c, nil
}

func (t *Tokens) verifySignature(ctx context.Context, tenantID, raw string) (Claims, error) {
	if len(raw) > maxTokenLen {
		return Claims{}, invalid("The access token is malformed.")
	}
	jws, err := jose.ParseSignedCompact(raw, Algorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return Claims{}, invalid("The access token is malformed or uses an unsupported algorithm.")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return Claims{}, invalid("The token is not an access token.")
	}
	if h.JSONWebKey != nil || h.ExtraHeaders["jku"] != nil || h.ExtraHeaders["x5u"] != nil {
		return Claims{}, invalid("The access token names its own key; only the tenant's keys are trusted.")
	}
	keys, err := t.cfg.Keys.PublicKeys(ctx, tenantID)
	if err != nil {
		return Claims{}, err
	}
	for _, k := range keys {
		if k.KeyID != h.KeyID || k.Algorithm != h.Algorithm {
			continue
		}
		payload, err := jws.Verify(k.Key)
		if err != nil {
			return Claims{}, invalid("The access token's signature is invalid.")
		}
		var c Claims
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		if err := dec.Decode(&c); err != nil {
			return Claims{}, invalid("The access token's claims are malformed.")
		}
		return c, nil
	}
	return Claims{}, invalid("The access token was signed by an unknown key.")
}

func (t *Tokens) checkClaims(tenantID string, c Claims) error {
	now := t.cfg.Clock()
	switch {
	case c.Issuer != t.cfg.Issuer(tenantID) || (c.TenantID != tenantID && tenantID != storage.CommonTenantID):
		return invalid("The access token was issued for another tenant.")
	case c.Audience != t.cfg.Audience:
		return invalid("The access token is for another audience.")
	case c.Expiry == 0 || now.After(time.Unix(c.Expiry, 0).Add(t.cfg.Leeway)):
		return invalid("The access token has expired.")
	case now.Add(t.cfg.Leeway).Before(time.Unix(c.NotBefore, 0)):
		return invalid("The access token is not valid yet.")
	case c.ID == "" || c.GrantID() == "" || c.Subject == "":
		return invalid("The access token lacks required claims.")
	}
	return nil
}
