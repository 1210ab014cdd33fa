package keys

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/storage"
)

// clock is an injectable clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	tokenLifetime = time.Hour
	testTTL       = 5 * time.Second
	tenantA       = "0b6f3f0e-0000-4000-8000-00000000000a"
	tenantB       = "0b6f3f0e-0000-4000-8000-00000000000b"
)

var (
	testKEK = bytes.Repeat([]byte{0x42}, KEKSize)
	quiet   = slog.New(slog.DiscardHandler)
)

func newManager(t testing.TB, st Store, c *clock) *Manager {
	t.Helper()
	m, err := New(st, Config{KEK: testKEK, Clock: c.Now, TokenMaxLifetime: tokenLifetime, KeySetTTL: testTTL, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// stored returns the tenant's raw set, straight from the store.
func stored(t *testing.T, st Store, tenantID string) []storage.SigningKey {
	t.Helper()
	set, err := st.SigningKeys(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// statuses summarises a set as alg -> status -> kids.
func statuses(set []storage.SigningKey) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, k := range set {
		if out[k.Algorithm] == nil {
			out[k.Algorithm] = map[string][]string{}
		}
		out[k.Algorithm][k.Status] = append(out[k.Algorithm][k.Status], k.ID)
	}
	return out
}

func signToken(t testing.TB, sk SigningKey, claims string) string {
	t.Helper()
	s, err := sk.NewSigner((&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(claims))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func verify(t *testing.T, m *Manager, tenantID, token string) error {
	t.Helper()
	ks, err := m.KeySet(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ks.Verify(context.Background(), token)
	return err
}

func mustSigner(t testing.TB, m *Manager, tenantID, alg string) SigningKey {
	t.Helper()
	sk, err := m.Signer(context.Background(), tenantID, alg)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestParseKEK(t *testing.T) {
	k := GenerateKEK()
	if len(k) != KEKSize || bytes.Equal(k, GenerateKEK()) {
		t.Fatalf("GenerateKEK returned %d bytes, or twice the same key", len(k))
	}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"std", base64.StdEncoding.EncodeToString(k), true},
		{"raw std", base64.RawStdEncoding.EncodeToString(k), true},
		{"url", base64.URLEncoding.EncodeToString(k), true},
		{"raw url", base64.RawURLEncoding.EncodeToString(k), true},
		{"file with newline", "  " + base64.StdEncoding.EncodeToString(k) + "\n", true},
		{"31 bytes", base64.StdEncoding.EncodeToString(k[:31]), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(k[:32:32], 1)), false},
		{"hex", "4242424242424242424242424242424242424242424242424242424242424242", false},
		{"empty", "", false},
		{"garbage", "not base64 at all!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKEK(tt.in)
			if !tt.ok {
				if !errors.Is(err, ErrInvalidKEK) {
					t.Fatalf("ParseKEK = %x, %v; want ErrInvalidKEK", got, err)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.in)) && tt.in != "" {
					t.Fatal("error message leaks the input")
				}
				return
			}
			if err != nil || !bytes.Equal(got, k) {
				t.Fatalf("ParseKEK = %x, %v; want %x", got, err, k)
			}
		})
	}
}

func TestSealUnseal(t *testing.T) {
	aead, err := newAEAD(testKEK)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newAEAD(GenerateKEK())
	if err != nil {
		t.Fatal(err)
	}
	pub := []byte(`{"kty":"EC","kid":"k1"}`)
	secret := []byte("pkcs8 private key bytes")
	sealed := seal(aead, tenantA, "k1", ES256, pub, secret)
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed blob contains the plaintext")
	}
	if again := seal(aead, tenantA, "k1", ES256, pub, secret); bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same key are equal: nonce reused")
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[(i+len(b))%len(b)] ^= 1
		return b
	}
	tests := []struct {
		name     string
		aead     cipher.AEAD
		tenant   string
		kid, alg string
		pub      []byte
		blob     []byte
		ok       bool
	}{
		{"round trip", aead, tenantA, "k1", ES256, pub, sealed, true},
		{"tampered ciphertext", aead, tenantA, "k1", ES256, pub, flip(20), false},
		{"tampered nonce", aead, tenantA, "k1", ES256, pub, flip(1), false},
		{"tampered tag", aead, tenantA, "k1", ES256, pub, flip(-1), false},
		{"unknown version", aead, tenantA, "k1", ES256, pub, flip(0), false},
		{"truncated", aead, tenantA, "k1", ES256, pub, sealed[:len(sealed)-1], false},
		{"too short", aead, tenantA, "k1", ES256, pub, sealed[:10], false},
		{"empty", aead, tenantA, "k1", ES256, pub, nil, false},
		{"wrong KEK", other, tenantA, "k1", ES256, pub, sealed, false},
		{"other tenant", aead, tenantB, "k1", ES256, pub, sealed, false},
		{"other kid", aead, tenantA, "k2", ES256, pub, sealed, false},
		{"other alg", aead, tenantA, "k1", RS256, pub, sealed, false},
		{"other public key", aead, tenantA, "k1", ES256, []byte(`{"kty":"EC","kid":"k2"}`), sealed, false},
		// Length prefixes: moving bytes between tenant and kid changes the AAD.
		{"shifted tenant/kid boundary", aead, tenantA + "k", "1", ES256, pub, sealed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := unseal(tt.aead, tt.tenant, tt.kid, tt.alg, tt.pub, tt.blob)
			if tt.ok {
				if err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("unseal = %q, %v; want %q", got, err, secret)
				}
				return
			}
			if !errors.Is(err, ErrUnseal) || got != nil {
				t.Fatalf("unseal = %q, %v; want ErrUnseal", got, err)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	st := newStore(t)
	tests := []struct {
		name  string
		store Store
		cfg   Config
		ok    bool
	}{
		{"valid", st, Config{KEK: testKEK, TokenMaxLifetime: time.Hour}, true},
		{"nil store", nil, Config{KEK: testKEK, TokenMaxLifetime: time.Hour}, false},
		{"no KEK", st, Config{TokenMaxLifetime: time.Hour}, false},
		{"short KEK", st, Config{KEK: testKEK[:16], TokenMaxLifetime: time.Hour}, false},
		{"no token lifetime", st, Config{KEK: testKEK}, false},
		{"negative TTL", st, Config{KEK: testKEK, TokenMaxLifetime: time.Hour, KeySetTTL: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.store, tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New = %v, %v; want ok=%v", m, err, tt.ok)
			}
		})
	}
	m, _ := New(st, Config{KEK: testKEK, TokenMaxLifetime: time.Hour})
	if m.PublishDelay() != DefaultJWKSMaxAge+DefaultKeySetTTL || m.JWKSMaxAge() != DefaultJWKSMaxAge ||
		m.Retention() != time.Hour+DefaultKeySetTTL+DefaultClockSkew {
		t.Fatalf("defaults: publish delay %v, max-age %v, retention %v", m.PublishDelay(), m.JWKSMaxAge(), m.Retention())
	}
}

func TestEnsureKeysIdempotent(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newManager(t, st, c)
	if err := m.EnsureKeys(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	first := stored(t, st, tenantA)
	if err := m.EnsureKeys(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	// Another instance, with a cold cache, sees the same keys.
	if err := newManager(t, st, c).EnsureKeys(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	second := stored(t, st, tenantA)
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("want 2 keys, got %d then %d", len(first), len(second))
	}
	for i := range first {
		if first[i].ID != second[i].ID || !bytes.Equal(first[i].Sealed, second[i].Sealed) {
			t.Fatalf("EnsureKeys changed key %d: %s -> %s", i, first[i].ID, second[i].ID)
		}
	}
	for _, k := range first {
		t.Run(k.Algorithm, func(t *testing.T) {
			if k.Status != storage.KeyCurrent || k.TenantID != tenantA || !k.CreatedAt.Equal(c.Now()) {
				t.Fatalf("key %+v", k)
			}
			if raw, _ := base64.RawURLEncoding.DecodeString(k.ID); len(raw) < 16 {
				t.Fatalf("kid %q has fewer than 128 bits", k.ID)
			}
			for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
				if bytes.Contains(k.PublicJWK, []byte(private)) {
					t.Fatalf("public JWK has private member %s: %s", private, k.PublicJWK)
				}
			}
			der, err := unseal(m.aead, tenantA, k.ID, k.Algorithm, k.PublicJWK, k.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				t.Fatalf("sealed key is not PKCS#8: %v", err)
			}
			switch p := priv.(type) {
			case *rsa.PrivateKey:
				if k.Algorithm != RS256 || p.N.BitLen() != 2048 {
					t.Fatalf("%s key is RSA %d", k.Algorithm, p.N.BitLen())
				}
			case *ecdsa.PrivateKey:
				if k.Algorithm != ES256 || p.Curve != elliptic.P256() {
					t.Fatalf("%s key is ECDSA %s", k.Algorithm, p.Curve.Params().Name)
				}
			default:
				t.Fatalf("%s key is %T", k.Algorithm, priv)
			}
		})
	}
}

func TestEnsureKeysRace(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	const n = 16
	replicas := make([]*Manager, n)
	for i := range replicas {
		replicas[i] = newManager(t, st, c)
	}
	shared := newManager(t, st, c)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	kids := make(chan string, 2*n)
	for i := range n {
		wg.Add(2)
		go func() { // one replica each
			defer wg.Done()
			errs <- replicas[i].EnsureKeys(ctx, tenantA)
		}()
		go func() { // many goroutines of one instance
			defer wg.Done()
			sk, err := shared.Signer(ctx, tenantA, ES256)
			errs <- err
			kids <- sk.ID()
		}()
	}
	wg.Wait()
	close(errs)
	close(kids)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := statuses(stored(t, st, tenantA))
	for _, alg := range algorithms {
		if len(got[alg][storage.KeyCurrent]) != 1 || len(got[alg]) != 1 {
			t.Fatalf("%s keys after %d racing EnsureKeys: %v", alg, n, got[alg])
		}
	}
	want := got[ES256][storage.KeyCurrent][0]
	for kid := range kids {
		if kid != want {
			t.Fatalf("Signer returned kid %s, store has %s", kid, want)
		}
	}
	for i, r := range replicas {
		for _, alg := range algorithms {
			if kid := mustSigner(t, r, tenantA, alg).ID(); kid != got[alg][storage.KeyCurrent][0] {
				t.Fatalf("replica %d signs %s with %s, store has %s", i, alg, kid, got[alg][storage.KeyCurrent][0])
			}
		}
	}
}

// TestRotationPhases walks one tenant through two rotations with an injected
// clock, checking the stored set, the signer and the published set at each
// step.
func TestRotationPhases(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newManager(t, st, c)
	if err := m.EnsureKeys(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	delay, retain := m.PublishDelay(), m.Retention()
	if delay != DefaultJWKSMaxAge+testTTL || retain != tokenLifetime+testTTL+DefaultClockSkew {
		t.Fatalf("publish delay %v, retention %v", delay, retain)
	}

	// Keys are named by generation: gen 0 is EnsureKeys', gen 1 the first
	// rotation's, ...; want lists generation per status.
	gen := map[string]int{}
	for _, k := range stored(t, st, tenantA) {
		gen[k.ID] = 0
	}
	type want struct {
		current  int
		next     int // -1: none
		previous []int
	}
	steps := []struct {
		name      string
		advance   time.Duration
		op        func() error
		wantErr   error
		store     want // the stored set (each algorithm alike)
		published int  // keys PublicKeys returns
	}{
		{"phase 1 publishes next keys", time.Minute, func() error { return m.Rotate(ctx, tenantA) }, nil,
			want{0, 1, nil}, 4},
		{"too early for phase 2", delay - time.Second, func() error { return m.Rotate(ctx, tenantA) }, ErrRotationPending,
			want{0, 1, nil}, 4},
		{"phase 2 promotes after the publish delay", time.Second, func() error { return m.Rotate(ctx, tenantA) }, nil,
			want{1, -1, []int{0}}, 4},
		{"previous key still published just before NotAfter", retain - time.Second, nil, nil,
			want{1, -1, []int{0}}, 4},
		{"previous key unpublished at NotAfter, not yet pruned", time.Second, nil, nil,
			want{1, -1, []int{0}}, 2},
		{"next rotation prunes it", time.Minute, func() error { return m.Rotate(ctx, tenantA) }, nil,
			want{1, 2, nil}, 4},
		{"RotateNow promotes a young next key", time.Second, func() error { return m.RotateNow(ctx, tenantA) }, nil,
			want{2, -1, []int{1}}, 4},
		{"RotateNow without next creates a current key", time.Second, func() error { return m.RotateNow(ctx, tenantA) }, nil,
			want{3, -1, []int{1, 2}}, 6},
	}
	nextGen := 1
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			c.Add(step.advance)
			if step.op != nil {
				err := step.op()
				if step.wantErr == nil && err != nil || step.wantErr != nil && !errors.Is(err, step.wantErr) {
					t.Fatalf("err = %v, want %v", err, step.wantErr)
				}
			}
			set := stored(t, st, tenantA)
			fresh := false
			for _, k := range set {
				if _, ok := gen[k.ID]; !ok {
					gen[k.ID] = nextGen
					fresh = true
				}
			}
			if fresh {
				nextGen++
			}
			got := statuses(set)
			for _, alg := range algorithms {
				gens := func(status string) []int {
					var g []int
					for _, kid := range got[alg][status] {
						g = append(g, gen[kid])
					}
					return g
				}
				cur, next, prev := gens(storage.KeyCurrent), gens(storage.KeyNext), gens(storage.KeyPrevious)
				wantNext := []int(nil)
				if step.store.next >= 0 {
					wantNext = []int{step.store.next}
				}
				if len(cur) != 1 || cur[0] != step.store.current || !equalInts(next, wantNext) || !equalInts(sorted(prev), step.store.previous) {
					t.Fatalf("%s: current %v next %v previous %v; want %+v", alg, cur, next, prev, step.store)
				}
				sk := mustSigner(t, m, tenantA, alg)
				if gen[sk.ID()] != step.store.current {
					t.Fatalf("%s signs with generation %d, want %d", alg, gen[sk.ID()], step.store.current)
				}
			}
			for _, k := range set {
				switch k.Status {
				case storage.KeyPrevious:
					if k.NotAfter.IsZero() {
						t.Fatalf("previous key %s without NotAfter", k.ID)
					}
					if pt, err := unseal(m.aead, tenantA, k.ID, k.Algorithm, k.PublicJWK, k.Sealed); err != nil || len(pt) != 0 {
						t.Fatalf("previous key %s: private key not erased (%d bytes, %v)", k.ID, len(pt), err)
					}
				default:
					if !k.NotAfter.IsZero() {
						t.Fatalf("%s key %s has NotAfter", k.Status, k.ID)
					}
				}
			}
			pub, err := m.PublicKeys(ctx, tenantA)
			if err != nil {
				t.Fatal(err)
			}
			if len(pub) != step.published {
				t.Fatalf("PublicKeys has %d keys, want %d", len(pub), step.published)
			}
		})
	}
	// The demoted key's NotAfter is the demotion time plus the retention.
	var sawPrevious bool
	for _, k := range stored(t, st, tenantA) {
		if k.Status == storage.KeyPrevious && gen[k.ID] == 2 {
			sawPrevious = true
			if want := c.Now().Add(retain); !k.NotAfter.Equal(want) { // demoted by the last step
				t.Fatalf("NotAfter = %v, want %v", k.NotAfter, want)
			}
		}
	}
	if !sawPrevious {
		t.Fatal("generation 2 is not previous")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sorted(a []int) []int {
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			if a[j] < a[i] {
				a[i], a[j] = a[j], a[i]
			}
		}
	}
	return a
}

func TestRotateConcurrent(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	if err := newManager(t, st, c).EnsureKeys(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := newManager(t, st, c).Rotate(ctx, tenantA); err != nil && !errors.Is(err, ErrRotationPending) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := statuses(stored(t, st, tenantA))
	for _, alg := range algorithms {
		if len(got[alg][storage.KeyCurrent]) != 1 || len(got[alg][storage.KeyNext]) != 1 || len(got[alg]) != 2 {
			t.Fatalf("%s after %d concurrent phase-1 rotations: %v", alg, n, got[alg])
		}
	}
}

// TestTokensAcrossRotation signs tokens, rotates, and checks that they
// verify while their key is published and not after.
func TestTokensAcrossRotation(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newManager(t, st, c)
	tokens := map[string]string{}
	for _, alg := range algorithms {
		tokens[alg] = signToken(t, mustSigner(t, m, tenantA, alg), `{"sub":"u1"}`)
	}
	check := func(t *testing.T, verifier *Manager, wantOK bool) {
		t.Helper()
		for alg, tok := range tokens {
			err := verify(t, verifier, tenantA, tok)
			if wantOK && err != nil || !wantOK && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("%s token: err = %v, want ok=%v", alg, err, wantOK)
			}
		}
	}
	other := newManager(t, st, c) // another instance verifies too
	check(t, m, true)
	check(t, other, true)

	if err := m.Rotate(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	c.Add(m.PublishDelay())
	if err := m.Rotate(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	for _, alg := range algorithms {
		if sk := mustSigner(t, m, tenantA, alg); strings.Contains(tokens[alg], sk.ID()) {
			t.Fatalf("%s still signs with the demoted key", alg)
		}
	}
	t.Run("previous key verifies", func(t *testing.T) { check(t, m, true); check(t, other, true) })

	c.Add(m.Retention())
	t.Run("key past NotAfter does not", func(t *testing.T) { check(t, m, false); check(t, other, false) })

	if err := m.Rotate(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	t.Run("pruned key does not", func(t *testing.T) {
		for _, k := range stored(t, st, tenantA) {
			if k.Status == storage.KeyPrevious {
				t.Fatalf("previous key %s not pruned", k.ID)
			}
		}
		check(t, m, false)
	})
}

// TestOtherInstanceSeesRotation checks the KeySetTTL bound: an instance with
// a warm cache signs with the old key until its cache expires, and verifies
// tokens of the new key at once.
func TestOtherInstanceSeesRotation(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m1, m2 := newManager(t, st, c), newManager(t, st, c)
	old := mustSigner(t, m1, tenantA, ES256)
	if got := mustSigner(t, m2, tenantA, ES256); got.ID() != old.ID() {
		t.Fatalf("instances disagree: %s, %s", got.ID(), old.ID())
	}
	if err := m1.RotateNow(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	fresh := mustSigner(t, m1, tenantA, ES256)
	if fresh.ID() == old.ID() {
		t.Fatal("RotateNow did not change the current key")
	}
	c.Add(testTTL - time.Millisecond)
	if got := mustSigner(t, m2, tenantA, ES256); got.ID() != old.ID() {
		t.Fatalf("within KeySetTTL m2 signs with %s, want cached %s", got.ID(), old.ID())
	}
	// Unknown kid: m2 reads the set again (its copy is over a second old).
	if err := verify(t, m2, tenantA, signToken(t, fresh, `{}`)); err != nil {
		t.Fatalf("m2 rejects a token of the new key: %v", err)
	}
	c.Add(time.Millisecond)
	if got := mustSigner(t, m2, tenantA, ES256); got.ID() != fresh.ID() {
		t.Fatalf("after KeySetTTL m2 signs with %s, want %s", got.ID(), fresh.ID())
	}
}

func TestVerifierRefuses(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newManager(t, st, c)
	rs, es := mustSigner(t, m, tenantA, RS256), mustSigner(t, m, tenantA, ES256)
	foreign := mustSigner(t, m, tenantB, RS256) // another tenant's key
	rsPub := rs.Signer().Public().(*rsa.PublicKey)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claims := `{"sub":"admin"}`
	b64 := base64.RawURLEncoding.EncodeToString

	// withOpts signs claims with key (any go-jose signing key) and options.
	withOpts := func(alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(claims))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ours := func(sk SigningKey) jose.JSONWebKey {
		return jose.JSONWebKey{Key: sk.Key(), KeyID: sk.ID()}
	}
	opts := func() *jose.SignerOptions { return &jose.SignerOptions{} }
	pubDER, err := x509.MarshalPKIXPublicKey(rsPub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, _ := jose.JSONWebKey{Key: rsPub, KeyID: rs.ID(), Algorithm: RS256, Use: "sig"}.MarshalJSON()
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"},
		NotBefore: c.Now().Add(-time.Hour), NotAfter: c.Now().Add(time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"}},
		es.Signer().Public(), es.Signer())
	if err != nil {
		t.Fatal(err)
	}
	valid := signToken(t, rs, claims)
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256 token", valid, true},
		{"ES256 token", signToken(t, es, claims), true},
		{"ES256 with nonce and cty headers", withOpts(ES256, ours(es), opts().WithContentType("JWT").WithHeader("nonce", "n")), true},

		{"alg none", b64([]byte(`{"alg":"none","kid":"`+rs.ID()+`"}`)) + "." + b64([]byte(claims)) + ".", false},
		{"alg none, no signature part", b64([]byte(`{"alg":"none","kid":"`+rs.ID()+`"}`)) + "." + b64([]byte(claims)), false},
		{"alg NONE", b64([]byte(`{"alg":"NONE","kid":"`+rs.ID()+`"}`)) + "." + b64([]byte(claims)) + ".", false},
		{"HS256 keyed with the RSA public key DER", withOpts(jose.HS256, jose.JSONWebKey{Key: pubDER, KeyID: rs.ID()}, nil), false},
		{"HS256 keyed with the RSA public key PEM", withOpts(jose.HS256, jose.JSONWebKey{Key: pubPEM, KeyID: rs.ID()}, nil), false},
		{"HS256 keyed with the public JWK", withOpts(jose.HS256, jose.JSONWebKey{Key: pubJWK, KeyID: rs.ID()}, nil), false},
		{"PS256 with our RSA key", withOpts(jose.PS256, ours(rs), nil), false},
		{"RS512 with our RSA key", withOpts(jose.RS512, ours(rs), nil), false},
		{"alg of the other key (ES256 header, RS256 kid)", withOpts(ES256, jose.JSONWebKey{Key: es.Key(), KeyID: rs.ID()}, nil), false},

		{"attacker key with our kid", withOpts(RS256, jose.JSONWebKey{Key: attacker, KeyID: rs.ID()}, nil), false},
		{"kid of another tenant's key", signToken(t, foreign, claims), false},
		{"unknown kid", withOpts(RS256, jose.JSONWebKey{Key: attacker, KeyID: "attacker"}, nil), false},
		{"no kid", withOpts(RS256, rs.Key(), nil), false},

		{"jku header (our key)", withOpts(RS256, ours(rs), opts().WithHeader("jku", "https://evil.example/jwks")), false},
		{"x5u header (our key)", withOpts(RS256, ours(rs), opts().WithHeader("x5u", "https://evil.example/cert")), false},
		{"x5t header (our key)", withOpts(RS256, ours(rs), opts().WithHeader("x5t", "AAAA")), false},
		{"x5c header (our key)", withOpts(ES256, ours(es), opts().WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(certDER)})), false},
		{"jwk header (our key) with our kid", withOpts(RS256, ours(rs), &jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"kid": rs.ID()}}), false},
		{"jwk header (attacker key) with our kid", withOpts(RS256, jose.JSONWebKey{Key: attacker, KeyID: rs.ID()}, &jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"kid": rs.ID()}}), false},
		{"crit b64=false (our key)", withOpts(RS256, ours(rs), opts().WithBase64(false)), false},

		{"tampered payload", parts[0] + "." + b64([]byte(`{"sub":"root"}`)) + "." + parts[2], false},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(signToken(t, rs, `{}`), ".")[2], false},
		{"JSON serialisation", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(t, m, tenantA, tt.token)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify: %v, want ok=%v", err, tt.ok)
			}
		})
	}

	// The parsed-JWS path (zitadel's oidc.KeySet) applies the same rules,
	// including to headers only JSON serialisation can carry.
	ks, err := m.KeySet(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	multi, err := jose.NewMultiSigner([]jose.SigningKey{{Algorithm: RS256, Key: ours(rs)}, {Algorithm: ES256, Key: ours(es)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	multiJWS, err := multi.Sign([]byte(claims))
	if err != nil {
		t.Fatal(err)
	}
	jsonTests := []struct {
		name string
		jws  string
		ok   bool
	}{
		{"compact", valid, true},
		{"flattened JSON", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, true},
		{"unprotected kid", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","header":{"kid":"x"},"signature":"` + parts[2] + `"}`, false},
		{"unprotected jku", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","header":{"jku":"https://evil.example"},"signature":"` + parts[2] + `"}`, false},
		{"two signatures", multiJWS.FullSerialize(), false},
	}
	for _, tt := range jsonTests {
		t.Run("VerifySignature/"+tt.name, func(t *testing.T) {
			jws, err := jose.ParseSigned(tt.jws, []jose.SignatureAlgorithm{RS256, ES256})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := ks.VerifySignature(ctx, jws)
			if tt.ok && (err != nil || string(payload) != claims) || !tt.ok && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("VerifySignature = %q, %v; want ok=%v", payload, err, tt.ok)
			}
		})
	}
	if _, err := ks.VerifySignature(ctx, nil); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("VerifySignature(nil) = %v", err)
	}
	_, h, err := ks.Verify(ctx, valid)
	if err != nil || h.KeyID != rs.ID() || h.ExtraHeaders["typ"] != "JWT" {
		t.Fatalf("Verify header = %+v, %v", h, err)
	}
}

// TestStoreWithoutKEK checks what a writer of the store who lacks the KEK
// can do: inject a key or move another tenant's key (neither is published
// nor verifies, and the next rotation deletes it), and what an instance
// with the wrong KEK does (refuses to sign or write).
func TestStoreWithoutKEK(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newManager(t, st, c)
	if err := m.EnsureKeys(ctx, tenantB); err != nil {
		t.Fatal(err)
	}
	victim := stored(t, st, tenantB)[0]
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	injectedPub, _ := jose.JSONWebKey{Key: attacker.Public(), KeyID: "injected", Algorithm: RS256, Use: "sig"}.MarshalJSON()
	other, _ := newAEAD(GenerateKEK())
	sealedElsewhere := seal(other, tenantA, "injected", RS256, injectedPub, []byte("x"))
	moved := victim
	moved.TenantID = tenantA
	relabelled := victim // right tenant field, sealed for tenant B
	relabelled.TenantID, relabelled.ID = tenantA, "relabelled"

	tests := []struct {
		name string
		key  storage.SigningKey
	}{
		{"injected previous key, no seal", storage.SigningKey{ID: "injected", TenantID: tenantA, Algorithm: RS256, Status: storage.KeyPrevious, PublicJWK: injectedPub, NotAfter: c.Now().Add(time.Hour)}},
		{"injected key sealed under another KEK", storage.SigningKey{ID: "injected", TenantID: tenantA, Algorithm: RS256, Status: storage.KeyNext, PublicJWK: injectedPub, Sealed: sealedElsewhere}},
		{"key moved from another tenant", moved},
		{"key of another tenant, relabelled", relabelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, c := newStore(t), newClock()
			m := newManager(t, st, c)
			if err := m.EnsureKeys(ctx, tenantA); err != nil {
				t.Fatal(err)
			}
			if _, err := st.UpdateSigningKeys(ctx, tenantA, func(set []storage.SigningKey) ([]storage.SigningKey, error) {
				return append(set, tt.key), nil
			}); err != nil {
				t.Fatal(err)
			}
			fresh := newManager(t, st, c)
			pub, err := fresh.PublicKeys(ctx, tenantA)
			if err != nil {
				t.Fatal(err)
			}
			if len(pub) != 2 {
				t.Fatalf("published %d keys, want the 2 genuine ones", len(pub))
			}
			jwks, _ := fresh.JWKS(ctx, tenantA)
			if bytes.Contains(jwks, []byte(tt.key.ID)) {
				t.Fatalf("JWKS publishes %s", tt.key.ID)
			}
			if tt.key.ID == "injected" {
				tok := signToken(t, SigningKey{kid: "injected", alg: RS256, key: attacker, signer: attacker}, `{"sub":"admin"}`)
				if err := verify(t, fresh, tenantA, tok); !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("token of the injected key: %v", err)
				}
			}
			// Signing with the genuine keys goes on, and the next rotation
			// deletes the bad key.
			mustSigner(t, fresh, tenantA, RS256)
			if err := fresh.Rotate(ctx, tenantA); err != nil {
				t.Fatal(err)
			}
			for _, k := range stored(t, st, tenantA) {
				if k.ID == tt.key.ID {
					t.Fatalf("Rotate kept %s", k.ID)
				}
			}
		})
	}

	t.Run("wrong KEK", func(t *testing.T) {
		wrong, err := New(st, Config{KEK: GenerateKEK(), Clock: c.Now, TokenMaxLifetime: tokenLifetime, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		before := stored(t, st, tenantB)
		if _, err := wrong.Signer(ctx, tenantB, RS256); !errors.Is(err, ErrNoKey) || !errors.Is(err, ErrUnseal) {
			t.Fatalf("Signer = %v, want ErrNoKey and ErrUnseal", err)
		}
		if err := wrong.EnsureKeys(ctx, tenantB); !errors.Is(err, ErrUnseal) {
			t.Fatalf("EnsureKeys = %v, want ErrUnseal", err)
		}
		for _, rotate := range []func(context.Context, string) error{wrong.Rotate, wrong.RotateNow} {
			if err := rotate(ctx, tenantB); !errors.Is(err, ErrUnseal) {
				t.Fatalf("rotate = %v, want ErrUnseal", err)
			}
		}
		if pub, _ := wrong.PublicKeys(ctx, tenantB); len(pub) != 0 {
			t.Fatalf("wrong KEK publishes %d keys", len(pub))
		}
		after := stored(t, st, tenantB)
		if len(after) != len(before) {
			t.Fatalf("wrong KEK changed the set: %d -> %d keys", len(before), len(after))
		}
		for i := range after {
			if after[i].ID != before[i].ID || after[i].Status != before[i].Status {
				t.Fatalf("wrong KEK changed key %d", i)
			}
		}
	})
}

func TestJWKS(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newManager(t, st, c)

	empty, err := m.JWKS(ctx, tenantA)
	if err != nil || string(empty) != `{"keys":[]}` {
		t.Fatalf("JWKS of a tenant without keys = %s, %v", empty, err)
	}
	c.Add(testTTL)
	if err := m.EnsureKeys(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	if err := m.Rotate(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	raw, err := m.JWKS(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	pub, _ := m.PublicKeys(ctx, tenantA)
	if len(doc.Keys) != 4 || len(pub) != 4 {
		t.Fatalf("JWKS has %d keys, PublicKeys %d; want 4", len(doc.Keys), len(pub))
	}
	set := stored(t, st, tenantA)
	status := map[string]string{}
	for _, k := range set {
		status[k.ID] = k.Status
	}
	wantOrder := []struct{ status, alg, kty string }{
		{storage.KeyCurrent, RS256, "RSA"}, {storage.KeyCurrent, ES256, "EC"},
		{storage.KeyNext, RS256, "RSA"}, {storage.KeyNext, ES256, "EC"},
	}
	for i, k := range doc.Keys {
		kid, _ := k["kid"].(string)
		if k["use"] != "sig" || k["alg"] != wantOrder[i].alg || k["kty"] != wantOrder[i].kty || status[kid] != wantOrder[i].status || pub[i].KeyID != kid {
			t.Fatalf("key %d = %v (status %s); want %+v", i, k, status[kid], wantOrder[i])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS key %d has private member %q", i, private)
			}
		}
	}
	raw[0] = 'X' // the caller owns the bytes
	if again, _ := m.JWKS(ctx, tenantA); again[0] != '{' {
		t.Fatal("JWKS returned the cached slice")
	}
}

func TestSignerErrors(t *testing.T) {
	m := newManager(t, newStore(t), newClock())
	for _, alg := range []string{"", "HS256", "none", "rs256", "PS256", "EdDSA"} {
		if _, err := m.Signer(context.Background(), tenantA, alg); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("Signer(%q) = %v, want ErrUnsupportedAlgorithm", alg, err)
		}
	}
	if _, err := m.Signer(context.Background(), "", RS256); err == nil {
		t.Error("Signer with an empty tenant ID succeeded")
	}
}

func TestCacheBound(t *testing.T) {
	st, c := newStore(t), newClock()
	m, err := New(st, Config{KEK: testKEK, Clock: c.Now, TokenMaxLifetime: tokenLifetime, MaxCachedTenants: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tenants := []string{tenantA, tenantB, "tenant-c", "tenant-d"}
	kids := map[string]string{}
	for _, id := range tenants {
		kids[id] = mustSigner(t, m, id, ES256).ID()
	}
	if n := m.ntenants.Load(); n > 2 {
		t.Fatalf("%d tenants cached, bound is 2", n)
	}
	for _, id := range tenants {
		if got := mustSigner(t, m, id, ES256).ID(); got != kids[id] {
			t.Fatalf("tenant %s: kid %s after eviction, want %s", id, got, kids[id])
		}
	}
}

// TestDecryptedKeyCache checks that a refresh of the key set keeps the
// decrypted key while it stays current, and drops it once demoted.
func TestDecryptedKeyCache(t *testing.T) {
	st, c := newStore(t), newClock()
	m := newManager(t, st, c)
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			first := mustSigner(t, m, tenantA, alg)
			c.Add(testTTL) // the set is read again
			if again := mustSigner(t, m, tenantA, alg); again.Signer() != first.Signer() {
				t.Fatal("the current key was decrypted again after a key-set refresh")
			}
			if err := m.RotateNow(context.Background(), tenantA); err != nil {
				t.Fatal(err)
			}
			s := m.cacheFor(tenantA).snap.Load()
			if _, ok := s.signers[first.ID()]; ok {
				t.Fatal("the demoted key is still cached decrypted")
			}
		})
	}
}
