package bearer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/keys"
	"github.com/foyer-id/foyer/provider/bearer"
)

// countingKeys counts reads of the published keys: one per signature check.
type countingKeys struct {
	*keys.Manager
	reads atomic.Int64
}

func (k *countingKeys) PublicKeys(ctx context.Context, tenantID string) ([]jose.JSONWebKey, error) {
	k.reads.Add(1)
	return k.Manager.PublicKeys(ctx, tenantID)
}

// TestVerifiedTokenCache checks that a token verified once skips the
// signature when presented again, while expiry, tenant and revocation are
// still checked every time, and a changed token is verified afresh.
func TestVerifiedTokenCache(t *testing.T) {
	e := newEnv(t, false)
	ck := &countingKeys{Manager: e.keys}
	tokens := e.newTokens(func(c *bearer.Config) { c.Keys = ck })
	tid := e.tenant(t)
	g := e.grant(t, tid)
	raw, c, err := tokens.Mint(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := tokens.Verify(t.Context(), tid, raw); err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
	}
	if n := ck.reads.Load(); n != 1 {
		t.Fatalf("signature checked %d times for one token, want 1", n)
	}
	// A changed token is not the cached one.
	if _, err := tokens.Verify(t.Context(), tid, raw[:len(raw)-2]+"AA"); !errors.Is(err, bearer.ErrInvalid) {
		t.Fatalf("tampered token: %v", err)
	}
	// Another tenant: verified against its own keys, refused.
	if _, err := tokens.Verify(t.Context(), e.tenant(t), raw); !errors.Is(err, bearer.ErrInvalid) {
		t.Fatalf("token of another tenant: %v", err)
	}
	// Revocation is checked on every use, cached or not.
	if err := e.store.RevokeAccessToken(t.Context(), tid, c.ID, c.Expires()); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Verify(t.Context(), tid, raw); !errors.Is(err, bearer.ErrInvalid) {
		t.Fatalf("revoked token served from the cache: %v", err)
	}
	// Expiry too.
	raw2, _, err := tokens.Mint(t.Context(), e.grant(t, tid))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Verify(t.Context(), tid, raw2); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(e.clock.Now().Add(2 * time.Hour))
	if _, err := tokens.Verify(t.Context(), tid, raw2); !errors.Is(err, bearer.ErrInvalid) {
		t.Fatalf("expired token served from the cache: %v", err)
	}
}
