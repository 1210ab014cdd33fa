package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/keys"
	"github.com/foyer-id/foyer/provider/bearer"
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

// clock is a settable clock for the Tokens under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a Tokens on real keys and a real store: a real Redis when
// FOYER_TEST_REDIS_URL is set (unless the test needs miniredis itself),
// miniredis otherwise.
type env struct {
	store  *redisstore.Store
	mr     *miniredis.Miniredis // nil on a real Redis
	keys   *keys.Manager
	urls   tenancy.URLs
	clock  *clock
	tokens *bearer.Tokens
}

func newEnv(tb testing.TB, needMiniredis bool) *env {
	tb.Helper()
	e := &env{urls: tenancy.URLs{Base: "https://login.foyer.example"}}
	var client redis.UniversalClient
	if url := os.Getenv("FOYER_TEST_REDIS_URL"); url != "" && !needMiniredis {
		c, err := redisstore.Open(context.Background(), url)
		if err != nil {
			tb.Fatal(err)
		}
		client = c
	} else {
		e.mr = miniredis.RunT(tb)
		// One dial attempt: the store-down tests stop the server.
		client = redis.NewClient(&redis.Options{Addr: e.mr.Addr(), DialerRetries: 1})
	}
	tb.Cleanup(func() { client.Close() })
	e.store = redisstore.New(client, redisstore.Config{})
	e.keys = e.newKeys(tb)
	e.clock = &clock{t: time.Now().Truncate(time.Second)}
	e.tokens = e.newTokens(func(*bearer.Config) {})
	return e
}

func (e *env) newKeys(tb testing.TB) *keys.Manager {
	tb.Helper()
	m, err := keys.New(e.store, keys.Config{KEK: kek, TokenMaxLifetime: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// kek is shared by every Manager of the test binary, so that a second
// Manager over the same store can unseal the keys of the first.
var kek = keys.GenerateKEK()

func (e *env) newTokens(edit func(*bearer.Config)) *bearer.Tokens {
	cfg := bearer.Config{
		Keys:        e.keys,
		Revocations: e.store,
		Issuer:      e.urls.Issuer,
		Audience:    e.urls.GraphResource(),
		Clock:       e.clock.Now,
	}
	edit(&cfg)
	return bearer.New(cfg)
}

// tenant returns a new tenant ID with signing keys.
func (e *env) tenant(tb testing.TB) string {
	tb.Helper()
	id := storage.NewID()
	if err := e.keys.EnsureKeys(context.Background(), id); err != nil {
		tb.Fatal(err)
	}
	return id
}

// grant stores a live grant in the tenant and returns a Grant for Mint.
func (e *env) grant(tb testing.TB, tenantID string) bearer.Grant {
	tb.Helper()
	now := time.Now()
	g := storage.Grant{
		ID: storage.NewID(), UserID: storage.NewID(), ClientID: "app-" + storage.NewID(),
		Scopes: []string{"openid", "User.Read"}, AuthTime: now.Add(-time.Minute).Truncate(time.Second),
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
	}
	if err := e.store.CreateGrant(context.Background(), tenantID, g); err != nil {
		tb.Fatal(err)
	}
	return bearer.Grant{
		TenantID: tenantID, GrantID: g.ID, UserID: g.UserID, ClientID: g.ClientID,
		Scopes: g.Scopes, AuthTime: g.AuthTime,
	}
}

func (e *env) mint(tb testing.TB, g bearer.Grant) (string, bearer.Claims) {
	tb.Helper()
	raw, c, err := e.tokens.Mint(context.Background(), g)
	if err != nil {
		tb.Fatal(err)
	}
	return raw, c
}

// publicKey returns the tenant's published key for alg.
func (e *env) publicKey(tb testing.TB, tenantID, alg string) jose.JSONWebKey {
	tb.Helper()
	ks, err := e.keys.PublicKeys(context.Background(), tenantID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, k := range ks {
		if k.Algorithm == alg {
			return k
		}
	}
	tb.Fatalf("tenant %s publishes no %s key", tenantID, alg)
	return jose.JSONWebKey{}
}

// signer returns the tenant's real private key for alg.
func (e *env) signer(tb testing.TB, tenantID, alg string) keys.SigningKey {
	tb.Helper()
	k, err := e.keys.Signer(context.Background(), tenantID, alg)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// sign builds a JWS over claims with go-jose. typ is "at+jwt" unless
// header sets jose.HeaderType; header adds further parameters.
func sign(tb testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any, header map[jose.HeaderKey]any) string {
	tb.Helper()
	opts := (&jose.SignerOptions{}).WithType(bearer.Type)
	for k, v := range header {
		opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// compact builds a compact JWS by hand, with sig computed over the signing
// input: for algorithms go-jose refuses to produce (none, HS256 with an
// RSA key).
func compact(tb testing.TB, header, claims any, sig func(input []byte) []byte) string {
	tb.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig([]byte(input)))
}

func hs256(key []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(input)
		return m.Sum(nil)
	}
}

// segments returns the decoded header and payload of a compact JWS.
func segments(tb testing.TB, raw string) (header, payload map[string]any) {
	tb.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d parts", len(parts))
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			tb.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			tb.Fatal(err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

// wantInvalid fails unless err is a fault of kind Unauthenticated wrapping
// bearer.ErrInvalid (and not a store failure).
func wantInvalid(tb testing.TB, c bearer.Claims, err error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("Verify accepted the token: %+v", c)
	}
	if !errors.Is(err, bearer.ErrInvalid) {
		tb.Fatalf("error %v does not wrap bearer.ErrInvalid", err)
	}
	if errors.Is(err, storage.ErrUnavailable) {
		tb.Fatalf("error %v wraps storage.ErrUnavailable", err)
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Unauthenticated || fe.Code != "InvalidAuthenticationToken" {
		tb.Fatalf("error %v: want a fault of kind Unauthenticated, code InvalidAuthenticationToken", err)
	}
	if fault.Status(err) != 401 {
		tb.Fatalf("status %d, want 401", fault.Status(err))
	}
	if c != (bearer.Claims{}) {
		tb.Fatalf("Verify returned claims with its error: %+v", c)
	}
}

var reJTIRandom = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func TestMintVerifyRoundTrip(t *testing.T) {
	e := newEnv(t, false)
	tid := e.tenant(t)
	for _, tc := range []struct {
		name, alg, wantAlg string
	}{
		{"default is ES256", "", "ES256"},
		{"ES256", "ES256", "ES256"},
		{"RS256 on request", "RS256", "RS256"},
		// Anything else falls back to the default; never "none" or HS*.
		{"unknown alg falls back to ES256", "HS256", "ES256"},
		{"none falls back to ES256", "none", "ES256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := e.grant(t, tid)
			g.Alg = tc.alg
			g.Scopes = []string{"openid", "User.Read", "User.ReadWrite"}
			now := e.clock.Now()
			raw, minted := e.mint(t, g)

			header, payload := segments(t, raw)
			if header["typ"] != "at+jwt" || header["alg"] != tc.wantAlg {
				t.Errorf("header = %v, want typ at+jwt, alg %s", header, tc.wantAlg)
			}
			if want := e.publicKey(t, tid, tc.wantAlg).KeyID; header["kid"] != want {
				t.Errorf("kid = %v, want the tenant's %s key %s", header["kid"], tc.wantAlg, want)
			}
			for _, h := range []string{"jku", "jwk", "x5u", "x5c", "crit"} {
				if _, ok := header[h]; ok {
					t.Errorf("header carries %s", h)
				}
			}

			grantID, random, ok := strings.Cut(payload["jti"].(string), ".")
			if !ok || grantID != g.GrantID || !reJTIRandom.MatchString(random) {
				t.Errorf("jti = %v, want %s.<22 base64url characters>", payload["jti"], g.GrantID)
			}
			want := map[string]any{
				"iss":       e.urls.Issuer(tid),
				"sub":       g.UserID,
				"oid":       g.UserID,
				"tid":       tid,
				"aud":       e.urls.GraphResource(),
				"scp":       "openid User.Read User.ReadWrite",
				"azp":       g.ClientID,
				"client_id": g.ClientID,
				"ver":       "2.0",
				"iat":       float64(now.Unix()),
				"nbf":       float64(now.Unix()),
				"exp":       float64(now.Add(time.Hour).Unix()),
				"auth_time": float64(g.AuthTime.Unix()),
				"jti":       payload["jti"],
			}
			for k, v := range want {
				if payload[k] != v {
					t.Errorf("claim %s = %v, want %v", k, payload[k], v)
				}
			}
			for k := range payload {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected claim %s = %v", k, payload[k])
				}
			}

			got, err := e.tokens.Verify(t.Context(), tid, raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != minted {
				t.Errorf("Verify returned %+v, Mint %+v", got, minted)
			}
			if got.GrantID() != g.GrantID || !got.HasScope("User.ReadWrite") || got.HasScope("User") ||
				!got.Expires().Equal(now.Add(time.Hour)) {
				t.Errorf("claims helpers: grant %q, scopes %q, expires %v", got.GrantID(), got.Scopes(), got.Expires())
			}
		})
	}

	t.Run("jti is fresh for every token", func(t *testing.T) {
		g := e.grant(t, tid)
		seen := map[string]bool{}
		for range 50 {
			_, c := e.mint(t, g)
			if seen[c.ID] {
				t.Fatalf("jti %s minted twice", c.ID)
			}
			seen[c.ID] = true
		}
	})

	t.Run("no auth_time when unknown", func(t *testing.T) {
		g := e.grant(t, tid)
		g.AuthTime = time.Time{}
		raw, _ := e.mint(t, g)
		if _, payload := segments(t, raw); payload["auth_time"] != nil {
			t.Errorf("auth_time = %v, want none", payload["auth_time"])
		}
		if _, err := e.tokens.Verify(t.Context(), tid, raw); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("lifetime", func(t *testing.T) {
		short := e.newTokens(func(c *bearer.Config) { c.Lifetime = 5 * time.Minute })
		if short.Lifetime() != 5*time.Minute || e.tokens.Lifetime() != time.Hour {
			t.Fatalf("Lifetime() = %v and %v", short.Lifetime(), e.tokens.Lifetime())
		}
		_, c, err := short.Mint(t.Context(), e.grant(t, tid))
		if err != nil {
			t.Fatal(err)
		}
		if c.Expiry-c.IssuedAt != 300 {
			t.Errorf("exp - iat = %d s, want 300", c.Expiry-c.IssuedAt)
		}
	})
}

// TestVerifyRejects feeds Verify tokens that each differ from a valid one
// in one respect only; the control cases show the forging helpers make
// tokens Verify accepts, so each rejection is the attack's.
func TestVerifyRejects(t *testing.T) {
	e := newEnv(t, false)
	tid, other := e.tenant(t), e.tenant(t)
	g := e.grant(t, tid)
	_, base := e.mint(t, g)
	es, rs := e.signer(t, tid, "ES256"), e.signer(t, tid, "RS256")
	otherES := e.signer(t, other, "ES256")

	claims := func(edit func(*bearer.Claims)) bearer.Claims {
		c := base
		if edit != nil {
			edit(&c)
		}
		return c
	}
	rsaPub := e.publicKey(t, tid, "RS256").Key.(*rsa.PublicKey)
	pkix, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(rsaPub)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	foreignEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreignRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hsHeader := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": rs.ID()}

	valid := func(t *testing.T) string { return sign(t, jose.ES256, es.Key(), es.ID(), claims(nil), nil) }

	t.Run("control", func(t *testing.T) {
		for name, raw := range map[string]string{
			"ES256":              valid(t),
			"RS256":              sign(t, jose.RS256, rs.Key(), rs.ID(), claims(nil), nil),
			"typ upper case":     sign(t, jose.ES256, es.Key(), es.ID(), claims(nil), map[jose.HeaderKey]any{jose.HeaderType: "AT+JWT"}),
			"typ with prefix":    sign(t, jose.ES256, es.Key(), es.ID(), claims(nil), map[jose.HeaderKey]any{jose.HeaderType: "application/at+jwt"}),
			"exp at the instant": sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Expiry = e.clock.Now().Unix() }), nil),
		} {
			t.Run(name, func(t *testing.T) {
				if _, err := e.tokens.Verify(t.Context(), tid, raw); err != nil {
					t.Fatalf("the harness's valid token was refused: %v", err)
				}
			})
		}
	})

	for _, tc := range []struct {
		name  string
		token func(t *testing.T) string
	}{
		{"alg none", func(t *testing.T) string {
			return compact(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": es.ID()}, claims(nil),
				func([]byte) []byte { return nil })
		}},
		{"alg none with the real signature", func(t *testing.T) string {
			parts := strings.Split(valid(t), ".")
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + es.ID() + `","typ":"at+jwt"}`))
			return h + "." + parts[1] + "." + parts[2]
		}},
		{"HS256 keyed with the RSA public key (PKIX DER)", func(t *testing.T) string {
			return compact(t, hsHeader, claims(nil), hs256(pkix))
		}},
		{"HS256 keyed with the RSA public key (PKCS#1 DER)", func(t *testing.T) string {
			return compact(t, hsHeader, claims(nil), hs256(pkcs1))
		}},
		{"HS256 keyed with the RSA public key (PEM)", func(t *testing.T) string {
			return compact(t, hsHeader, claims(nil), hs256(pemBytes))
		}},
		{"HS256 keyed with the RSA modulus", func(t *testing.T) string {
			return compact(t, hsHeader, claims(nil), hs256(rsaPub.N.Bytes()))
		}},
		{"foreign EC key with the tenant's kid", func(t *testing.T) string {
			return sign(t, jose.ES256, foreignEC, es.ID(), claims(nil), nil)
		}},
		{"foreign RSA key with the tenant's kid", func(t *testing.T) string {
			return sign(t, jose.RS256, foreignRSA, rs.ID(), claims(nil), nil)
		}},
		{"kid not in the set", func(t *testing.T) string {
			return sign(t, jose.ES256, foreignEC, "not-a-published-kid", claims(nil), nil)
		}},
		{"no kid", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), "", claims(nil), nil)
		}},
		{"kid of the RSA key with alg ES256", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), rs.ID(), claims(nil), nil)
		}},
		{"jku header", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(nil), map[jose.HeaderKey]any{"jku": "https://evil.example/jwks"})
		}},
		{"x5u header", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(nil), map[jose.HeaderKey]any{"x5u": "https://evil.example/cert.pem"})
		}},
		{"jwk header naming the tenant's own key", func(t *testing.T) string {
			// Signed by the real key: only the header's presence is wrong.
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(nil),
				map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: &es.Key().(*ecdsa.PrivateKey).PublicKey}})
		}},
		{"jwk header with a foreign key", func(t *testing.T) string {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: foreignEC},
				(&jose.SignerOptions{EmbedJWK: true}).WithType(bearer.Type))
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(claims(nil))
			jws, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := jws.CompactSerialize()
			return raw
		}},
		{"expired", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Expiry = e.clock.Now().Unix() - 1 }), nil)
		}},
		{"no exp", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Expiry = 0 }), nil)
		}},
		{"nbf in the future", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.NotBefore = e.clock.Now().Unix() + 60 }), nil)
		}},
		{"truncated signature", func(t *testing.T) string { r := valid(t); return r[:len(r)-4] }},
		{"signature removed", func(t *testing.T) string { r := valid(t); return r[:strings.LastIndexByte(r, '.')+1] }},
		{"signature of another token", func(t *testing.T) string {
			a := strings.Split(valid(t), ".")
			b := strings.Split(sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Scope = "openid" }), nil), ".")
			return a[0] + "." + a[1] + "." + b[2]
		}},
		{"payload modified (scope added)", func(t *testing.T) string {
			parts := strings.Split(valid(t), ".")
			c := claims(func(c *bearer.Claims) { c.Scope += " Directory.AccessAsUser.All" })
			b, _ := json.Marshal(c)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
		}},
		{"ID token (typ JWT) signed by the tenant's RS256 key", func(t *testing.T) string {
			return sign(t, jose.RS256, rs.Key(), rs.ID(), claims(nil), map[jose.HeaderKey]any{jose.HeaderType: "JWT"})
		}},
		{"ID token (typ JWT) signed by the tenant's ES256 key", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(nil), map[jose.HeaderKey]any{jose.HeaderType: "JWT"})
		}},
		{"typ absent, real key", func(t *testing.T) string {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: es.Key(), KeyID: es.ID()}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(claims(nil))
			jws, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := jws.CompactSerialize()
			return raw
		}},
		{"another audience", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Audience = "https://graph.microsoft.com" }), nil)
		}},
		{"another issuer", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Issuer = e.urls.Issuer(other) }), nil)
		}},
		{"another tid", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.TenantID = other }), nil)
		}},
		{"tenant B's key, tenant A's claims", func(t *testing.T) string {
			return sign(t, jose.ES256, otherES.Key(), otherES.ID(), claims(nil), nil)
		}},
		{"no jti", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.ID = "" }), nil)
		}},
		{"jti without grant", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.ID = ".abc" }), nil)
		}},
		{"jti of a grant that does not exist", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.ID = storage.NewID() + ".abc" }), nil)
		}},
		{"no sub", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Subject = "" }), nil)
		}},
		{"aud as an array", func(t *testing.T) string {
			var m map[string]any
			b, _ := json.Marshal(claims(nil))
			json.Unmarshal(b, &m)
			m["aud"] = []string{e.urls.GraphResource()}
			return sign(t, jose.ES256, es.Key(), es.ID(), m, nil)
		}},
		{"payload not JSON", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), "not an object", nil)
		}},
		{"oversized", func(t *testing.T) string {
			return sign(t, jose.ES256, es.Key(), es.ID(), claims(func(c *bearer.Claims) { c.Scope = strings.Repeat("x ", 5000) }), nil)
		}},
		{"empty", func(*testing.T) string { return "" }},
		{"garbage", func(*testing.T) string { return "a.b.c" }},
		{"JSON serialization, real key", func(t *testing.T) string {
			// RFC 7519 section 7.2: a JWT is in the compact serialization.
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: es.Key(), KeyID: es.ID()}},
				(&jose.SignerOptions{}).WithType(bearer.Type))
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(claims(nil))
			jws, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			return jws.FullSerialize()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.tokens.Verify(t.Context(), tid, tc.token(t))
			wantInvalid(t, c, err)
			t.Log(err)
		})
	}
}

func TestVerifyTime(t *testing.T) {
	e := newEnv(t, false)
	tid := e.tenant(t)
	t0 := e.clock.Now()
	raw, c := e.mint(t, e.grant(t, tid))
	t.Cleanup(func() { e.clock.Set(t0) })
	lenient := e.newTokens(func(c *bearer.Config) { c.Leeway = 30 * time.Second })

	for _, tc := range []struct {
		name   string
		at     time.Time
		tokens *bearer.Tokens
		ok     bool
	}{
		{"at issue", t0, e.tokens, true},
		{"at expiry", c.Expires(), e.tokens, true},
		{"a second after expiry", c.Expires().Add(time.Second), e.tokens, false},
		{"a day after expiry", c.Expires().Add(24 * time.Hour), e.tokens, false},
		{"a second before nbf", t0.Add(-time.Second), e.tokens, false},
		{"leeway: within it after expiry", c.Expires().Add(30 * time.Second), lenient, true},
		{"leeway: past it after expiry", c.Expires().Add(31 * time.Second), lenient, false},
		{"leeway: within it before nbf", t0.Add(-30 * time.Second), lenient, true},
		{"leeway: past it before nbf", t0.Add(-31 * time.Second), lenient, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Set(tc.at)
			got, err := tc.tokens.Verify(t.Context(), tid, raw)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify at %v: %v", tc.at, err)
				}
				return
			}
			wantInvalid(t, got, err)
		})
	}
}

func TestVerifyAcrossConfigs(t *testing.T) {
	e := newEnv(t, false)
	a, b := e.tenant(t), e.tenant(t)

	t.Run("token of tenant A verified as tenant B", func(t *testing.T) {
		raw, _ := e.mint(t, e.grant(t, a))
		got, err := e.tokens.Verify(t.Context(), b, raw)
		wantInvalid(t, got, err)
		if _, err := e.tokens.Verify(t.Context(), a, raw); err != nil {
			t.Fatalf("as tenant A: %v", err)
		}
	})
	t.Run("common issuer", func(t *testing.T) {
		// The common tenant's ID is fixed, so its keys on a shared Redis
		// would be sealed under another run's KEK: use a private store.
		e := newEnv(t, true)
		a, b := e.tenant(t), e.tenant(t)
		if err := e.keys.EnsureKeys(t.Context(), storage.CommonTenantID); err != nil {
			t.Fatal(err)
		}
		g := e.grant(t, storage.CommonTenantID)
		g.HomeTenantID = a
		raw, c := e.mint(t, g)
		if c.Issuer != e.urls.Issuer(storage.CommonTenantID) || c.TenantID != a {
			t.Fatalf("iss %s, tid %s; want the common issuer and the home tenant", c.Issuer, c.TenantID)
		}
		if _, err := e.tokens.Verify(t.Context(), storage.CommonTenantID, raw); err != nil {
			t.Fatalf("as the common issuer: %v", err)
		}
		// Not a token of the home tenant's issuer, nor of another tenant.
		for _, tid := range []string{a, b} {
			got, err := e.tokens.Verify(t.Context(), tid, raw)
			wantInvalid(t, got, err)
		}
		// A tenant's key cannot vouch for the common issuer.
		es := e.signer(t, a, "ES256")
		got, err := e.tokens.Verify(t.Context(), storage.CommonTenantID, sign(t, jose.ES256, es.Key(), es.ID(), c, nil))
		wantInvalid(t, got, err)
	})
	t.Run("minted for another audience", func(t *testing.T) {
		otherAPI := e.newTokens(func(c *bearer.Config) { c.Audience = "https://api.other.example" })
		raw, _, err := otherAPI.Mint(t.Context(), e.grant(t, a))
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.tokens.Verify(t.Context(), a, raw)
		wantInvalid(t, got, err)
	})
	t.Run("minted by another deployment's issuer", func(t *testing.T) {
		otherURLs := tenancy.URLs{Base: "https://login.other.example"}
		otherIss := e.newTokens(func(c *bearer.Config) { c.Issuer = otherURLs.Issuer })
		raw, _, err := otherIss.Mint(t.Context(), e.grant(t, a))
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.tokens.Verify(t.Context(), a, raw)
		wantInvalid(t, got, err)
	})
}

func TestVerifyRevocation(t *testing.T) {
	e := newEnv(t, false)
	tid := e.tenant(t)
	ctx := t.Context()

	t.Run("revoked jti", func(t *testing.T) {
		g := e.grant(t, tid)
		raw, c := e.mint(t, g)
		sibling, _ := e.mint(t, g)
		if err := e.store.RevokeAccessToken(ctx, tid, c.ID, c.Expires()); err != nil {
			t.Fatal(err)
		}
		got, err := e.tokens.Verify(ctx, tid, raw)
		wantInvalid(t, got, err)
		// Only that token: another of the same grant still works.
		if _, err := e.tokens.Verify(ctx, tid, sibling); err != nil {
			t.Fatalf("sibling token: %v", err)
		}
	})
	t.Run("revoked grant", func(t *testing.T) {
		g := e.grant(t, tid)
		raw, _ := e.mint(t, g)
		if _, err := e.tokens.Verify(ctx, tid, raw); err != nil {
			t.Fatalf("before revocation: %v", err)
		}
		if err := e.store.RevokeGrant(ctx, tid, g.GrantID); err != nil {
			t.Fatal(err)
		}
		got, err := e.tokens.Verify(ctx, tid, raw)
		wantInvalid(t, got, err)
	})
	t.Run("jti revoked in another tenant only", func(t *testing.T) {
		other := e.tenant(t)
		raw, c := e.mint(t, e.grant(t, tid))
		if err := e.store.RevokeAccessToken(ctx, other, c.ID, c.Expires()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.tokens.Verify(ctx, tid, raw); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

func TestVerifyStoreDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fresh verifies with a new key manager, whose cache is empty, so
		// the key lookup itself meets the outage.
		fresh bool
	}{
		{"revocation lookup fails", false},
		{"key lookup fails", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			tid := e.tenant(t)
			raw, _ := e.mint(t, e.grant(t, tid))
			if _, err := e.tokens.Verify(t.Context(), tid, raw); err != nil {
				t.Fatalf("before the outage: %v", err)
			}
			tokens := e.tokens
			if tc.fresh {
				e.keys = e.newKeys(t)
				tokens = e.newTokens(func(*bearer.Config) {})
			}
			e.mr.Close()
			c, err := tokens.Verify(t.Context(), tid, raw)
			if err == nil {
				t.Fatalf("Verify with the store down accepted the token: %+v", c)
			}
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("error %v does not wrap storage.ErrUnavailable", err)
			}
			if errors.Is(err, bearer.ErrInvalid) {
				t.Fatalf("error %v wraps bearer.ErrInvalid: an outage would read as a bad token (401)", err)
			}
			if k := fault.From(err).Kind; k != fault.Unavailable {
				t.Fatalf("fault kind %v, want Unavailable", k)
			}
		})
	}
}

func BenchmarkMint(b *testing.B) {
	e := newEnv(b, false)
	tid := e.tenant(b)
	g := e.grant(b, tid)
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			g.Alg = alg
			e.mint(b, g) // warm the key cache
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := e.tokens.Mint(b.Context(), g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify includes the revocation round trip to the store.
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b, false)
	tid := e.tenant(b)
	g := e.grant(b, tid)
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			g.Alg = alg
			raw, _ := e.mint(b, g)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.tokens.Verify(b.Context(), tid, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// user stores the user a grant names in tenantID, enabled or not.
func (e *env) user(tb testing.TB, tenantID string, g bearer.Grant, enabled bool) storage.User {
	tb.Helper()
	u := storage.User{ID: g.UserID, DisplayName: "User " + g.UserID[:8], AccountEnabled: enabled, CreatedDateTime: time.Now().UTC().Truncate(time.Second)}
	if err := e.store.CreateUser(context.Background(), tenantID, u, ""); err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestVerifyUser checks the API's verification: Verify's checks, and the
// token's user read in the same step from the user's home tenant.
func TestVerifyUser(t *testing.T) {
	e := newEnv(t, false)
	tid := e.tenant(t)
	ctx := t.Context()
	verify := func(tenantID, raw string) (bearer.Claims, storage.User, error) {
		return e.tokens.VerifyUser(ctx, tenantID, raw)
	}
	wantUserInvalid := func(t *testing.T, c bearer.Claims, u storage.User, err error, msg string) {
		t.Helper()
		wantInvalid(t, c, err)
		if u.ID != "" {
			t.Fatalf("VerifyUser returned a user with its error: %+v", u)
		}
		if fe := fault.From(err); fe.Message != msg {
			t.Fatalf("message %q, want %q", fe.Message, msg)
		}
	}

	t.Run("valid", func(t *testing.T) {
		g := e.grant(t, tid)
		want := e.user(t, tid, g, true)
		raw, wantClaims := e.mint(t, g)
		c, u, err := verify(tid, raw)
		if err != nil || c != wantClaims || u.ID != want.ID || u.DisplayName != want.DisplayName {
			t.Fatalf("VerifyUser = %+v, %+v, %v; want the token's claims and user", c, u, err)
		}
	})
	t.Run("user gone", func(t *testing.T) {
		raw, _ := e.mint(t, e.grant(t, tid))
		c, u, err := verify(tid, raw)
		wantUserInvalid(t, c, u, err, "The user of the access token no longer exists.")
	})
	t.Run("user disabled", func(t *testing.T) {
		g := e.grant(t, tid)
		e.user(t, tid, g, false)
		raw, _ := e.mint(t, g)
		c, u, err := verify(tid, raw)
		wantUserInvalid(t, c, u, err, "The user's account is disabled.")
	})
	t.Run("revoked jti", func(t *testing.T) {
		g := e.grant(t, tid)
		e.user(t, tid, g, true)
		raw, claims := e.mint(t, g)
		if err := e.store.RevokeAccessToken(ctx, tid, claims.ID, claims.Expires()); err != nil {
			t.Fatal(err)
		}
		c, u, err := verify(tid, raw)
		wantUserInvalid(t, c, u, err, "The access token has been revoked.")
	})
	t.Run("revoked grant, user gone too", func(t *testing.T) {
		// Revocation is reported before the missing user.
		g := e.grant(t, tid)
		raw, _ := e.mint(t, g)
		if err := e.store.RevokeGrant(ctx, tid, g.GrantID); err != nil {
			t.Fatal(err)
		}
		c, u, err := verify(tid, raw)
		wantUserInvalid(t, c, u, err, "The access token has been revoked.")
	})
	t.Run("user of another tenant with the same ID", func(t *testing.T) {
		g := e.grant(t, tid)
		e.user(t, e.tenant(t), g, true)
		raw, _ := e.mint(t, g)
		c, u, err := verify(tid, raw)
		wantUserInvalid(t, c, u, err, "The user of the access token no longer exists.")
	})
	t.Run("common issuer reads the home tenant's user", func(t *testing.T) {
		e := newEnv(t, true) // the common tenant's keys: see TestVerifyAcrossConfigs
		home := e.tenant(t)
		if err := e.keys.EnsureKeys(ctx, storage.CommonTenantID); err != nil {
			t.Fatal(err)
		}
		g := e.grant(t, storage.CommonTenantID)
		g.HomeTenantID = home
		want := e.user(t, home, g, true)
		raw, _ := e.mint(t, g)
		if _, u, err := e.tokens.VerifyUser(ctx, storage.CommonTenantID, raw); err != nil || u.ID != want.ID {
			t.Fatalf("VerifyUser = %+v, %v; want the home tenant's user", u, err)
		}
		if err := e.store.RevokeGrant(ctx, storage.CommonTenantID, g.GrantID); err != nil {
			t.Fatal(err)
		}
		c, u, err := e.tokens.VerifyUser(ctx, storage.CommonTenantID, raw)
		wantUserInvalid(t, c, u, err, "The access token has been revoked.")
	})
	t.Run("store down", func(t *testing.T) {
		e := newEnv(t, true)
		tid := e.tenant(t)
		g := e.grant(t, tid)
		e.user(t, tid, g, true)
		raw, _ := e.mint(t, g)
		if _, _, err := e.tokens.VerifyUser(ctx, tid, raw); err != nil {
			t.Fatalf("before the outage: %v", err)
		}
		e.mr.Close()
		_, u, err := e.tokens.VerifyUser(ctx, tid, raw)
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, bearer.ErrInvalid) || fault.From(err).Kind != fault.Unavailable || u.ID != "" {
			t.Fatalf("VerifyUser with the store down = %+v, %v; want an Unavailable fault only", u, err)
		}
	})
}

func TestPeek(t *testing.T) {
	e := newEnv(t, false)
	tid := e.tenant(t)
	g := e.grant(t, tid)
	e.user(t, tid, g, true)
	raw, c := e.mint(t, g)
	for _, when := range []string{"before verification", "once verified"} {
		if iss, got, ok := e.tokens.Peek(raw); !ok || iss != c.Issuer || got != tid {
			t.Fatalf("%s: Peek = %q, %q, %v; want %q, %q", when, iss, got, ok, c.Issuer, tid)
		}
		if _, _, err := e.tokens.VerifyUser(t.Context(), tid, raw); err != nil {
			t.Fatal(err)
		}
	}
	// Unverified claims are only read: a forged token peeks, then fails.
	forged := compact(t, map[string]any{"alg": "none", "typ": bearer.Type}, map[string]any{"iss": "https://evil.example", "tid": tid}, func([]byte) []byte { return nil })
	if iss, got, ok := e.tokens.Peek(forged); !ok || iss != "https://evil.example" || got != tid {
		t.Fatalf("Peek(forged) = %q, %q, %v", iss, got, ok)
	}
	c2, u, err := e.tokens.VerifyUser(t.Context(), tid, forged)
	wantInvalid(t, c2, err)
	if u.ID != "" {
		t.Fatalf("VerifyUser(forged) returned a user: %+v", u)
	}
	for _, bad := range []string{"", "a.b", "a.b.c.d", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c", strings.Repeat("a", 9000) + ".e30.c"} {
		if _, _, ok := e.tokens.Peek(bad); ok {
			t.Errorf("Peek(%.40q) ok", bad)
		}
	}
}
