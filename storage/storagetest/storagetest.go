package storagetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// Harness is one store under test and the hooks the suite drives it with.
type Harness struct {
	// Store is the store under test. Other harnesses may share its backend.
	Store storage.Store
	// Now is the clock Store turns absolute expiry times into TTLs with;
	// the suite derives every ExpiresAt from it. Nil means time.Now.
	Now func() time.Time
	// Advance moves Now and the backend's TTLs forward by d, such as a
	// fake clock driving miniredis. Nil means sleeping d, for backends on
	// real time; the suite then waits about two seconds in all.
	Advance func(d time.Duration)
	// Stop makes Store's backend unreachable for the rest of the subtest,
	// by closing the server or cutting the connection. Nil skips the
	// outage test.
	Stop func()
}

// Run runs the suite on stores from newStore, on real time and without the
// outage test.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	RunHarness(t, func(t *testing.T) Harness { return Harness{Store: newStore(t)} })
}

// RunHarness runs the suite, calling newHarness once per subtest.
func RunHarness(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *Harness)
	}{
		{"Tenants", testTenants},
		{"Domains", testDomains},
		{"Apps", testApps},
		{"Users", testUsers},
		{"SigningKeys", testSigningKeys},
		{"AuthRequests", testAuthRequests},
		{"Once", testOnce},
		{"Grants", testGrants},
		{"TokenUser", testTokenUser},
		{"RevokeUserGrants", testRevokeUserGrants},
		{"RefreshTokens", testRefreshTokens},
		{"Sessions", testSessions},
		{"Counters", testCounters},
		{"Flows", testFlows},
		{"Audit", testAudit},
		{"Consents", testConsents},
		{"TenantIsolation", testTenantIsolation},
		{"Expiry", testExpiry},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentTakeOnce", testConcurrentTakeOnce},
		{"ConcurrentRotation", testConcurrentRotation},
		{"ConcurrentFlowUpdates", testConcurrentFlowUpdates},
		{"ConcurrentConsents", testConcurrentConsents},
		{"RepeatedCreates", testRepeatedCreates},
		{"RepeatedTake", testRepeatedTake},
		{"RepeatedRotation", testRepeatedRotation},
		{"RepeatedUpdates", testRepeatedUpdates},
		{"Unavailable", testUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if h.Now == nil {
				h.Now = time.Now
			}
			if h.Advance == nil {
				h.Advance = time.Sleep
			}
			tt.run(t, &h)
		})
	}
}

// now returns the store's time in UTC without a monotonic reading, so that
// values built from it survive an encoding round trip unchanged.
func (h *Harness) now() time.Time { return h.Now().UTC() }

// tenant creates a tenant with fresh ID and name.
func (h *Harness) tenant(t *testing.T) storage.Tenant {
	t.Helper()
	tn := storage.Tenant{
		ID: newID("tenant"), Name: newID("name"), DisplayName: "Contoso", Kind: storage.External,
		CreatedAt: h.now(), Policy: storage.DefaultPolicy(storage.External),
	}
	must(t, h.Store.CreateTenant(t.Context(), tn))
	return tn
}

func (h *Harness) grant(tenantID, userID, clientID string, ttl time.Duration) storage.Grant {
	now := h.now()
	return storage.Grant{
		ID: newID("grant"), TenantID: tenantID, UserID: userID, ClientID: clientID,
		Scopes: []string{"openid", "offline_access"}, AuthTime: now, AMR: []string{"pwd"},
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

func (h *Harness) refreshToken(g storage.Grant, ttl time.Duration) storage.RefreshToken {
	now := h.now()
	return storage.RefreshToken{
		Hash: newID("rt"), GrantID: g.ID, TenantID: g.TenantID, UserID: g.UserID, ClientID: g.ClientID,
		Scopes: g.Scopes, Audience: []string{g.ClientID}, AuthTime: g.AuthTime, AMR: g.AMR,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

func (h *Harness) session(tenantID, userID string, ttl time.Duration) storage.Session {
	now := h.now()
	return storage.Session{
		Hash: newID("session"), TenantID: tenantID, UserID: userID, AuthTime: now,
		AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

func (h *Harness) authRequest(tenantID string) storage.AuthRequest {
	return storage.AuthRequest{
		ID: newID("ar"), TenantID: tenantID, ClientID: "client", RedirectURI: "https://app.example/cb",
		State: "state", Nonce: "nonce", Scopes: []string{"openid"}, ResponseType: "code",
		CodeChallenge: "challenge", CodeChallengeMethod: "S256", CreatedAt: h.now(), GrantID: newID("grant"),
	}
}

func app(tenantID, clientID string) storage.App {
	return storage.App{
		ClientID: clientID, TenantID: tenantID, DisplayName: "App", SecretHash: []byte{1, 2, 3},
		RedirectURIs: []string{"https://app.example/cb"}, AllowedScopes: []string{"openid"},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func user(id, mail, upn string) storage.User {
	return storage.User{
		ID: id, DisplayName: "User " + id, Mail: mail, UserPrincipalName: upn, UserType: "Member",
		Identities:      []storage.ObjectIdentity{{SignInType: "emailAddress", Issuer: "foyer", IssuerAssignedID: mail}},
		AccountEnabled:  true,
		CreatedDateTime: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

// newID returns prefix and 64 random bits in hex.
func newID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// step is one call of a scenario and the error it must return (nil, or a
// sentinel it must wrap).
type step struct {
	name string
	call func() error
	want error
}

// steps runs a scenario in order, stopping at the first failed step.
func steps(t *testing.T, ss []step) {
	t.Helper()
	for _, s := range ss {
		if !t.Run(s.name, func(t *testing.T) { wantErr(t, s.call(), s.want) }) {
			return
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("got error %v, want %v", err, want)
	}
}

func equal[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// result is a call's value and error, for steps: got(s.GetApp(...)).is(a).
type result[T any] struct {
	v   T
	err error
}

func got[T any](v T, err error) result[T] { return result[T]{v, err} }

// is returns the call's error if its value is want, and an error naming
// both values otherwise.
func (r result[T]) is(want T) error {
	if !reflect.DeepEqual(r.v, want) {
		return fmt.Errorf("got %+v (error %v), want %+v", r.v, r.err, want)
	}
	return r.err
}

// none returns the call's error, or an error if it listed anything.
func none[T any](vs []T, err error) error {
	if len(vs) > 0 {
		return fmt.Errorf("got %+v, want none", vs)
	}
	return err
}

// errOf drops a call's value.
func errOf[T any](_ T, err error) error { return err }
