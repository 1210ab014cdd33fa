package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// The tests of this file repeat a state change as a resend would: with the
// same operation ID (storage.WithOperation). The repetition must answer as
// the first call did and change nothing more; the same change under another
// operation ID must still get ErrExists, ErrConsumed or a replay's
// revocation.

// ops returns a function that makes a fresh operation ID and a context for
// it.
func ops(ctx context.Context) func() context.Context {
	return func() context.Context { return storage.WithOperation(ctx, newID("op")) }
}

func testRepeatedCreates(t *testing.T, h *Harness) {
	ctx, s, op := t.Context(), h.Store, ops(t.Context())
	tn := h.tenant(t).ID
	tenant := storage.Tenant{ID: newID("tenant"), Name: newID("name"), Kind: storage.External, CreatedAt: h.now()}
	u, a, g, ar, f := user(newID("user"), newID("m")+"@contoso.example", newID("upn")+"@contoso.example"),
		app(tn, newID("client")), h.grant(tn, "alice", "app", long), h.authRequest(tn), h.flow(tn)
	onceID := newID("once")
	tenantOp, userOp, appOp, grantOp, arOp, flowOp, onceOp := op(), op(), op(), op(), op(), op(), op()
	steps(t, []step{
		{"tenant", func() error { return s.CreateTenant(tenantOp, tenant) }, nil},
		{"tenant repeated", func() error { return s.CreateTenant(tenantOp, tenant) }, nil},
		{"tenant by another operation", func() error { return s.CreateTenant(op(), tenant) }, storage.ErrExists},
		{"tenant stored once", func() error { return got(s.TenantIDByName(ctx, tenant.Name)).is(tenant.ID) }, nil},
		{"user", func() error { return s.CreateUser(userOp, tn, u, "hash") }, nil},
		{"user repeated", func() error { return s.CreateUser(userOp, tn, u, "hash") }, nil},
		{"user by another operation", func() error { return s.CreateUser(op(), tn, u, "hash") }, storage.ErrExists},
		{"user's mail by another operation", func() error {
			return s.CreateUser(op(), tn, user(newID("user"), u.Mail, newID("upn")), "")
		}, storage.ErrExists},
		{"user stored", func() error { return got(s.UserIDByMail(ctx, tn, u.Mail)).is(u.ID) }, nil},
		{"app", func() error { return s.CreateApp(appOp, tn, a) }, nil},
		{"app repeated", func() error { return s.CreateApp(appOp, tn, a) }, nil},
		{"app by another operation", func() error { return s.CreateApp(op(), tn, a) }, storage.ErrExists},
		{"app listed once", func() error { return got(s.ListApps(ctx, tn)).is([]storage.App{a}) }, nil},
		{"grant", func() error { return s.CreateGrant(grantOp, tn, g) }, nil},
		{"grant repeated", func() error { return s.CreateGrant(grantOp, tn, g) }, nil},
		{"grant by another operation", func() error { return s.CreateGrant(op(), tn, g) }, storage.ErrExists},
		{"auth request", func() error { return s.SaveAuthRequest(arOp, tn, ar, long) }, nil},
		{"auth request repeated", func() error { return s.SaveAuthRequest(arOp, tn, ar, long) }, nil},
		{"auth request by another operation", func() error { return s.SaveAuthRequest(op(), tn, ar, long) }, storage.ErrExists},
		{"flow", func() error { return s.CreateFlow(flowOp, tn, f, long) }, nil},
		{"flow repeated", func() error { return s.CreateFlow(flowOp, tn, f, long) }, nil},
		{"flow by another operation", func() error { return s.CreateFlow(op(), tn, f, long) }, storage.ErrExists},
		{"single-use value", func() error { return s.PutOnce(onceOp, tn, "code", onceID, []byte("v"), long) }, nil},
		{"single-use value repeated", func() error { return s.PutOnce(onceOp, tn, "code", onceID, []byte("v"), long) }, nil},
		{"single-use value by another operation", func() error {
			return s.PutOnce(op(), tn, "code", onceID, []byte("w"), long)
		}, storage.ErrExists},
	})
}

func testRepeatedTake(t *testing.T, h *Harness) {
	ctx, s, op := t.Context(), h.Store, ops(t.Context())
	tn, id, value := h.tenant(t).ID, newID("code"), []byte("grant-1")
	must(t, s.PutOnce(ctx, tn, "code", id, value, long))
	takeOp := op()
	before := h.now().Truncate(time.Millisecond)
	steps(t, []step{
		{"take", func() error { return got(s.TakeOnce(takeOp, tn, "code", id, long)).is(value) }, nil},
		{"take repeated", func() error { return got(s.TakeOnce(takeOp, tn, "code", id, long)).is(value) }, nil},
		{"take by another operation", func() error {
			v, err := s.TakeOnce(op(), tn, "code", id, long)
			at, ok := storage.TakenAt(err)
			if !ok || at.Before(before) || at.After(h.now()) {
				return fmt.Errorf("taken at %v, %v; want the time of the first take", at, ok)
			}
			return got(v, err).is(value)
		}, storage.ErrConsumed},
		{"take repeated after it", func() error { return got(s.TakeOnce(takeOp, tn, "code", id, long)).is(value) }, nil},
	})
}

func testRepeatedRotation(t *testing.T, h *Harness) {
	ctx, s, op := t.Context(), h.Store, ops(t.Context())
	tn := h.tenant(t).ID
	const reuse = 100 * time.Millisecond
	rot := storage.Rotation{Sealed: []byte("sealed\x00successor"), Reuse: reuse}

	// A resend of the rotation (same operation) succeeds at any time and
	// stores nothing more; another rotation of the used token is a replay
	// (no reuse window here).
	g := h.grant(tn, "alice", "app", long)
	rt1, rt2, rt3 := h.refreshToken(g, long), h.refreshToken(g, long), h.refreshToken(g, long)
	must(t, s.CreateGrant(ctx, tn, g))
	must(t, s.SaveRefreshToken(ctx, tn, rt1))
	rotOp, noReuse := op(), storage.Rotation{Sealed: rot.Sealed}
	steps(t, []step{
		{"rotate", func() error { return s.RotateRefreshToken(rotOp, tn, rt1.Hash, rt2, noReuse) }, nil},
		{"rotation recorded", func() error {
			used, err := s.GetRefreshToken(ctx, tn, rt1.Hash)
			if string(used.Successor) != string(rot.Sealed) {
				return fmt.Errorf("successor %q, want %q", used.Successor, rot.Sealed)
			}
			return err
		}, storage.ErrConsumed},
		{"save repeated keeps the token used", func() error {
			must(t, s.SaveRefreshToken(ctx, tn, rt1))
			return errOf(s.GetRefreshToken(ctx, tn, rt1.Hash))
		}, storage.ErrConsumed},
		{"rotate repeated", func() error { return s.RotateRefreshToken(rotOp, tn, rt1.Hash, rt2, noReuse) }, nil},
		{"grant live", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, nil},
		{"rotate by another operation", func() error { return s.RotateRefreshToken(op(), tn, rt1.Hash, rt3, noReuse) }, storage.ErrConsumed},
		{"replay revoked the grant", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, storage.ErrNotFound},
		{"replay stored nothing", func() error { return errOf(s.GetRefreshToken(ctx, tn, rt3.Hash)) }, storage.ErrNotFound},
	})

	// The same rotation (same successor) by another operation: the client
	// repeating its refresh. It succeeds within the window while the
	// successor is unused, and is a replay once the successor was used.
	g = h.grant(tn, "alice", "app", long)
	rt1, rt2, rt3 = h.refreshToken(g, long), h.refreshToken(g, long), h.refreshToken(g, long)
	must(t, s.CreateGrant(ctx, tn, g))
	must(t, s.SaveRefreshToken(ctx, tn, rt1))
	steps(t, []step{
		{"rotate", func() error { return s.RotateRefreshToken(op(), tn, rt1.Hash, rt2, rot) }, nil},
		{"same rotation by the client", func() error { return s.RotateRefreshToken(op(), tn, rt1.Hash, rt2, rot) }, nil},
		{"successor kept", func() error { return got(s.GetRefreshToken(ctx, tn, rt2.Hash)).is(rt2) }, nil},
		{"another successor within the window changes nothing", func() error {
			return s.RotateRefreshToken(op(), tn, rt1.Hash, rt3, rot)
		}, storage.ErrConflict},
		{"grant still live", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, nil},
		{"the other successor not stored", func() error { return errOf(s.GetRefreshToken(ctx, tn, rt3.Hash)) }, storage.ErrNotFound},
		{"successor used", func() error { return s.RotateRefreshToken(op(), tn, rt2.Hash, rt3, rot) }, nil},
		{"same rotation after the successor was used", func() error {
			return s.RotateRefreshToken(op(), tn, rt1.Hash, rt2, rot)
		}, storage.ErrConsumed},
		{"replay revoked the grant", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, storage.ErrNotFound},
	})

	// ... and is a replay after the window.
	g = h.grant(tn, "alice", "app", long)
	rt1, rt2 = h.refreshToken(g, long), h.refreshToken(g, long)
	must(t, s.CreateGrant(ctx, tn, g))
	must(t, s.SaveRefreshToken(ctx, tn, rt1))
	steps(t, []step{
		{"rotate", func() error { return s.RotateRefreshToken(op(), tn, rt1.Hash, rt2, rot) }, nil},
		{"same rotation after the window", func() error {
			h.Advance(reuse + 50*time.Millisecond)
			return s.RotateRefreshToken(op(), tn, rt1.Hash, rt2, rot)
		}, storage.ErrConsumed},
		{"replay revoked the grant", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, storage.ErrNotFound},
	})
}

func testRepeatedUpdates(t *testing.T, h *Harness) {
	ctx, s, op := t.Context(), h.Store, ops(t.Context())
	tn := h.tenant(t).ID
	f := h.flow(tn)
	must(t, s.CreateFlow(ctx, tn, f, long))
	count := func(fl storage.Flow, err error) result[int] { return got(fl.CodeAttempts, err) }
	inc := func(p *storage.Flow) error { p.CodeAttempts++; return nil }
	flowOp := op()
	keysOp := op()
	addKey := func(ks []storage.SigningKey) ([]storage.SigningKey, error) {
		return append(ks, storage.SigningKey{ID: newID("kid"), TenantID: tn, Algorithm: "ES256"}), nil
	}
	tenantOp := op()
	c := storage.Consent{UserID: "alice", ClientID: "app", Scopes: []string{"openid"}, CreatedAt: h.now()}
	var stored storage.Consent
	delOp := op()
	steps(t, []step{
		{"update", func() error { return count(s.UpdateFlow(flowOp, tn, f.ID, inc)).is(1) }, nil},
		{"update repeated answers the first result", func() error { return count(s.UpdateFlow(flowOp, tn, f.ID, inc)).is(1) }, nil},
		{"applied once", func() error { return count(s.GetFlow(ctx, tn, f.ID)).is(1) }, nil},
		{"update by another operation", func() error { return count(s.UpdateFlow(op(), tn, f.ID, inc)).is(2) }, nil},
		{"key rotation", func() error { return lenIs(s.UpdateSigningKeys(keysOp, tn, addKey))(1) }, nil},
		{"key rotation repeated", func() error { return lenIs(s.UpdateSigningKeys(keysOp, tn, addKey))(1) }, nil},
		{"one key stored", func() error { return lenIs(s.SigningKeys(ctx, tn))(1) }, nil},
		{"policy update", func() error {
			return errOf(s.UpdateTenant(tenantOp, tn, func(t *storage.Tenant) error { t.DisplayName += "+"; return nil }))
		}, nil},
		{"policy update repeated", func() error {
			return errOf(s.UpdateTenant(tenantOp, tn, func(t *storage.Tenant) error { t.DisplayName += "+"; return nil }))
		}, nil},
		{"policy updated once", func() error {
			t, err := s.GetTenant(ctx, tn)
			return got(t.DisplayName, err).is("Contoso+")
		}, nil},
		{"consent", func() error {
			var err error
			stored, err = s.PutConsent(op(), tn, c)
			return err
		}, nil},
		{"consent deleted", func() error { return got(s.DeleteConsent(delOp, tn, "alice", stored.ID)).is(stored) }, nil},
		{"consent deletion repeated", func() error { return got(s.DeleteConsent(delOp, tn, "alice", stored.ID)).is(stored) }, nil},
		{"consent deletion by another operation", func() error {
			return errOf(s.DeleteConsent(op(), tn, "alice", stored.ID))
		}, storage.ErrNotFound},
	})
}

// lenIs returns a check that a call listed n things.
func lenIs[T any](vs []T, err error) func(n int) error {
	return func(n int) error {
		if err != nil {
			return err
		}
		if len(vs) != n {
			return fmt.Errorf("got %d, want %d", len(vs), n)
		}
		return nil
	}
}
