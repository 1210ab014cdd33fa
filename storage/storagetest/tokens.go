package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// long outlives every test.
const long = time.Hour

func testAuthRequests(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	ar := h.authRequest(tn)
	steps(t, []step{
		{"save", func() error { return s.SaveAuthRequest(ctx, tn, ar, long) }, nil},
		{"save taken ID", func() error { return s.SaveAuthRequest(ctx, tn, ar, long) }, storage.ErrExists},
		{"get", func() error { return got(s.GetAuthRequest(ctx, tn, ar.ID)).is(ar) }, nil},
		{"get missing", func() error { return errOf(s.GetAuthRequest(ctx, tn, newID("ar"))) }, storage.ErrNotFound},
		{"update", func() error {
			ar.UserID, ar.AuthTime, ar.AMR, ar.Done = "user", h.now(), []string{"pwd"}, true
			return got(s.UpdateAuthRequest(ctx, tn, ar.ID, func(p *storage.AuthRequest) error {
				p.UserID, p.AuthTime, p.AMR, p.Done = ar.UserID, ar.AuthTime, ar.AMR, ar.Done
				return nil
			})).is(ar)
		}, nil},
		{"updated", func() error { return got(s.GetAuthRequest(ctx, tn, ar.ID)).is(ar) }, nil},
		{"updater error", func() error {
			return errOf(s.UpdateAuthRequest(ctx, tn, ar.ID, func(*storage.AuthRequest) error { return errUpdater }))
		}, errUpdater},
		{"update missing", func() error {
			return errOf(s.UpdateAuthRequest(ctx, tn, newID("ar"), func(*storage.AuthRequest) error { return nil }))
		}, storage.ErrNotFound},
		{"delete", func() error { return s.DeleteAuthRequest(ctx, tn, ar.ID) }, nil},
		{"deleted", func() error { return errOf(s.GetAuthRequest(ctx, tn, ar.ID)) }, storage.ErrNotFound},
		{"delete missing", func() error { return s.DeleteAuthRequest(ctx, tn, ar.ID) }, nil},
	})
}

func testOnce(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn, id, value := h.tenant(t).ID, newID("code"), []byte("grant-1\x00\xff")
	steps(t, []step{
		{"put", func() error { return s.PutOnce(ctx, tn, "code", id, value, long) }, nil},
		{"put taken", func() error { return s.PutOnce(ctx, tn, "code", id, []byte("other"), long) }, storage.ErrExists},
		{"same ID of another kind", func() error { return s.PutOnce(ctx, tn, "email", id, []byte("other"), long) }, nil},
		{"take", func() error { return got(s.TakeOnce(ctx, tn, "code", id, long)).is(value) }, nil},
		{"take again", func() error { return got(s.TakeOnce(ctx, tn, "code", id, long)).is(value) }, storage.ErrConsumed},
		{"put over the tombstone", func() error { return s.PutOnce(ctx, tn, "code", id, value, long) }, storage.ErrExists},
		{"other kind untouched", func() error { return got(s.TakeOnce(ctx, tn, "email", id, long)).is([]byte("other")) }, nil},
		{"take missing", func() error { return errOf(s.TakeOnce(ctx, tn, "code", newID("code"), long)) }, storage.ErrNotFound},
	})
}

func testGrants(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	g, other := h.grant(tn, "alice", "app", long), h.grant(tn, "alice", "app", long)
	jti := newID("jti")
	steps(t, []step{
		{"create", func() error { return s.CreateGrant(ctx, tn, g) }, nil},
		{"create second", func() error { return s.CreateGrant(ctx, tn, other) }, nil},
		{"create taken ID", func() error { return s.CreateGrant(ctx, tn, g) }, storage.ErrExists},
		{"get", func() error { return got(s.GetGrant(ctx, tn, g.ID)).is(g) }, nil},
		{"get missing", func() error { return errOf(s.GetGrant(ctx, tn, newID("grant"))) }, storage.ErrNotFound},
		{"user grants", func() error { return grantIDs(s.UserGrants(ctx, tn, "alice")).is(sorted(g.ID, other.ID)) }, nil},
		{"active", func() error { return got(s.TokenActive(ctx, tn, g.ID, jti)).is(true) }, nil},
		{"revoke access token", func() error { return s.RevokeAccessToken(ctx, tn, jti, h.now().Add(long)) }, nil},
		{"revoked access token", func() error { return got(s.TokenActive(ctx, tn, g.ID, jti)).is(false) }, nil},
		{"other access token active", func() error { return got(s.TokenActive(ctx, tn, g.ID, newID("jti"))).is(true) }, nil},
		{"revoke", func() error { return s.RevokeGrant(ctx, tn, g.ID) }, nil},
		{"revoked", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, storage.ErrNotFound},
		{"tokens of revoked grant", func() error { return got(s.TokenActive(ctx, tn, g.ID, newID("jti"))).is(false) }, nil},
		{"revoke missing", func() error { return s.RevokeGrant(ctx, tn, g.ID) }, nil},
		{"a revoked grant is not created again", func() error { return s.CreateGrant(ctx, tn, g) }, storage.ErrExists},
		{"still revoked", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, storage.ErrNotFound},
		{"user grants after revoke", func() error { return grantIDs(s.UserGrants(ctx, tn, "alice")).is([]string{other.ID}) }, nil},
		{"grants of user without any", func() error { return none(s.UserGrants(ctx, tn, "bob")) }, nil},
	})
}

// activeUser is TokenUser's answer: the user and whether the token is active.
type activeUser struct {
	User   storage.User
	Active bool
}

func tokenUser(u storage.User, active bool, err error) result[activeUser] {
	return got(activeUser{u, active}, err)
}

func testTokenUser(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn, home := h.tenant(t).ID, h.tenant(t).ID
	alice, bob := user(newID("alice"), "", ""), user(newID("bob"), "", "")
	must(t, s.CreateUser(ctx, tn, alice, ""))
	must(t, s.CreateUser(ctx, home, bob, ""))
	g, gone := h.grant(tn, alice.ID, "app", long), h.grant(tn, newID("gone"), "app", long)
	must(t, s.CreateGrant(ctx, tn, g))
	must(t, s.CreateGrant(ctx, tn, gone))
	// A grant of tn for a user of another tenant, as the common issuer's.
	cross := h.grant(tn, bob.ID, "app", long)
	must(t, s.CreateGrant(ctx, tn, cross))
	jti, revoked := newID("jti"), newID("jti")
	must(t, s.RevokeAccessToken(ctx, tn, revoked, h.now().Add(long)))
	// An active token whose user is gone: ErrNotFound, and no user.
	inactive, activeNoUser := activeUser{}, activeUser{Active: true}
	steps(t, []step{
		{"active", func() error {
			return tokenUser(s.TokenUser(ctx, tn, g.ID, jti, tn, alice.ID)).is(activeUser{alice, true})
		}, nil},
		{"revoked jti", func() error { return tokenUser(s.TokenUser(ctx, tn, g.ID, revoked, tn, alice.ID)).is(inactive) }, nil},
		{"missing grant", func() error { return tokenUser(s.TokenUser(ctx, tn, newID("grant"), jti, tn, alice.ID)).is(inactive) }, nil},
		{"user gone", func() error { return tokenUser(s.TokenUser(ctx, tn, gone.ID, jti, tn, gone.UserID)).is(activeNoUser) }, storage.ErrNotFound},
		{"revoked and user gone", func() error { return tokenUser(s.TokenUser(ctx, tn, gone.ID, revoked, tn, gone.UserID)).is(inactive) }, nil},
		{"user in another tenant", func() error {
			return tokenUser(s.TokenUser(ctx, tn, cross.ID, jti, home, bob.ID)).is(activeUser{bob, true})
		}, nil},
		{"user not in the token's tenant", func() error { return tokenUser(s.TokenUser(ctx, tn, cross.ID, jti, tn, bob.ID)).is(activeNoUser) }, storage.ErrNotFound},
		{"user in another tenant, revoked", func() error { return tokenUser(s.TokenUser(ctx, tn, cross.ID, revoked, home, bob.ID)).is(inactive) }, nil},
		{"user in another tenant, gone", func() error { return tokenUser(s.TokenUser(ctx, tn, cross.ID, jti, home, alice.ID)).is(activeNoUser) }, storage.ErrNotFound},
		{"caller owns the user", func() error {
			u, _, err := s.TokenUser(ctx, tn, g.ID, jti, tn, alice.ID)
			u.Identities[0].Issuer, u.Roles = "changed", append(u.Roles, "changed")
			if err != nil {
				return err
			}
			return tokenUser(s.TokenUser(ctx, tn, g.ID, jti, tn, alice.ID)).is(activeUser{alice, true})
		}, nil},
		{"update", func() error {
			alice.DisplayName, alice.Roles = "Alice Updated", []string{"Global Administrator"}
			return errOf(s.UpdateUser(ctx, tn, alice.ID, func(u *storage.User) error {
				u.DisplayName, u.Roles = alice.DisplayName, alice.Roles
				return nil
			}))
		}, nil},
		{"updated at once", func() error {
			return tokenUser(s.TokenUser(ctx, tn, g.ID, jti, tn, alice.ID)).is(activeUser{alice, true})
		}, nil},
		{"revoke grant", func() error { return s.RevokeGrant(ctx, tn, g.ID) }, nil},
		{"revoked grant", func() error { return tokenUser(s.TokenUser(ctx, tn, g.ID, jti, tn, alice.ID)).is(inactive) }, nil},
	})
}

// grantIDs returns the sorted IDs of grants.
func grantIDs(gs []storage.Grant, err error) result[[]string] {
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	slices.Sort(ids)
	return got(ids, err)
}

func sorted(ss ...string) []string {
	slices.Sort(ss)
	return ss
}

func testRevokeUserGrants(t *testing.T, h *Harness) {
	tests := []struct {
		name     string
		clientID string
		want     int
		left     []string // clients whose grants survive
	}{
		{"by client", "app1", 2, []string{"app2"}},
		{"by client without grants", "app3", 0, []string{"app1", "app1", "app2"}},
		{"all", "", 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := t.Context(), h.Store
			tn := h.tenant(t).ID
			for _, c := range []string{"app1", "app1", "app2"} {
				must(t, s.CreateGrant(ctx, tn, h.grant(tn, "alice", c, long)))
			}
			bobs := h.grant(tn, "bob", "app1", long)
			must(t, s.CreateGrant(ctx, tn, bobs))
			n, err := s.RevokeUserGrants(ctx, tn, "alice", tc.clientID)
			must(t, err)
			if n != tc.want {
				t.Errorf("revoked %d grants, want %d", n, tc.want)
			}
			gs, err := s.UserGrants(ctx, tn, "alice")
			must(t, err)
			var left []string
			for _, g := range gs {
				left = append(left, g.ClientID)
			}
			slices.Sort(left)
			equal(t, left, tc.left)
			wantErr(t, errOf(s.GetGrant(ctx, tn, bobs.ID)), nil)
			n, err = s.RevokeUserGrants(ctx, tn, "alice", tc.clientID)
			must(t, err)
			if n != 0 {
				t.Errorf("revoking again revoked %d grants", n)
			}
		})
	}
}

func testRefreshTokens(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	g, g2 := h.grant(tn, "alice", "app", long), h.grant(tn, "alice", "app", long)
	rt1, rt2, rt3, rt4 := h.refreshToken(g, long), h.refreshToken(g, long), h.refreshToken(g, long), h.refreshToken(g, long)
	other, next := h.refreshToken(g2, long), h.refreshToken(g2, long)
	steps(t, []step{
		{"create grant", func() error { return s.CreateGrant(ctx, tn, g) }, nil},
		{"save", func() error { return s.SaveRefreshToken(ctx, tn, rt1) }, nil},
		{"get", func() error { return got(s.GetRefreshToken(ctx, tn, rt1.Hash)).is(rt1) }, nil},
		{"get missing", func() error { return errOf(s.GetRefreshToken(ctx, tn, newID("rt"))) }, storage.ErrNotFound},
		{"rotate", func() error { return s.RotateRefreshToken(ctx, tn, rt1.Hash, rt2, storage.Rotation{}) }, nil},
		{"rotated token is consumed", func() error {
			used, err := s.GetRefreshToken(ctx, tn, rt1.Hash)
			if used.RotatedAt.IsZero() || used.RotatedAt.After(h.now()) {
				return fmt.Errorf("rotated at %v, want a time before now", used.RotatedAt)
			}
			used.RotatedAt = time.Time{}
			return got(used, err).is(rt1)
		}, storage.ErrConsumed},
		{"successor", func() error { return got(s.GetRefreshToken(ctx, tn, rt2.Hash)).is(rt2) }, nil},
		{"rotate successor", func() error { return s.RotateRefreshToken(ctx, tn, rt2.Hash, rt3, storage.Rotation{}) }, nil},
		{"rotate missing", func() error { return s.RotateRefreshToken(ctx, tn, newID("rt"), rt4, storage.Rotation{}) }, storage.ErrNotFound},
		{"grant still live", func() error { return got(s.GetGrant(ctx, tn, g.ID)).is(g) }, nil},
		{"replay", func() error { return s.RotateRefreshToken(ctx, tn, rt1.Hash, rt4, storage.Rotation{}) }, storage.ErrConsumed},
		{"replay revoked the grant", func() error { return errOf(s.GetGrant(ctx, tn, g.ID)) }, storage.ErrNotFound},
		{"a grant a replay revoked is not created again", func() error { return s.CreateGrant(ctx, tn, g) }, storage.ErrExists},
		{"replay ended access tokens", func() error { return got(s.TokenActive(ctx, tn, g.ID, newID("jti"))).is(false) }, nil},
		{"replay ended the latest token", func() error { return errOf(s.GetRefreshToken(ctx, tn, rt3.Hash)) }, storage.ErrNotFound},
		{"replay stored nothing", func() error { return errOf(s.GetRefreshToken(ctx, tn, rt4.Hash)) }, storage.ErrNotFound},
		{"create second grant", func() error { return s.CreateGrant(ctx, tn, g2) }, nil},
		{"save in second grant", func() error { return s.SaveRefreshToken(ctx, tn, other) }, nil},
		{"revoke second grant", func() error { return s.RevokeGrant(ctx, tn, g2.ID) }, nil},
		{"token of revoked grant", func() error { return errOf(s.GetRefreshToken(ctx, tn, other.Hash)) }, storage.ErrNotFound},
		{"rotate token of revoked grant", func() error { return s.RotateRefreshToken(ctx, tn, other.Hash, next, storage.Rotation{}) }, storage.ErrNotFound},
	})
}

func testSessions(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	a1, a2, b := h.session(tn, "alice", long), h.session(tn, "alice", long), h.session(tn, "bob", long)
	steps(t, []step{
		{"create", func() error { return s.CreateSession(ctx, tn, a1) }, nil},
		{"create second", func() error { return s.CreateSession(ctx, tn, a2) }, nil},
		{"create other user's", func() error { return s.CreateSession(ctx, tn, b) }, nil},
		{"get", func() error { return got(s.GetSession(ctx, tn, a1.Hash)).is(a1) }, nil},
		{"get missing", func() error { return errOf(s.GetSession(ctx, tn, newID("session"))) }, storage.ErrNotFound},
		{"delete", func() error { return s.DeleteSession(ctx, tn, a1.Hash) }, nil},
		{"deleted", func() error { return errOf(s.GetSession(ctx, tn, a1.Hash)) }, storage.ErrNotFound},
		{"delete missing", func() error { return s.DeleteSession(ctx, tn, a1.Hash) }, nil},
		{"delete user's", func() error { return s.DeleteUserSessions(ctx, tn, "alice") }, nil},
		{"user's deleted", func() error { return errOf(s.GetSession(ctx, tn, a2.Hash)) }, storage.ErrNotFound},
		{"other user's kept", func() error { return got(s.GetSession(ctx, tn, b.Hash)).is(b) }, nil},
		{"delete for user without any", func() error { return s.DeleteUserSessions(ctx, tn, "carol") }, nil},
	})
}

func testCounters(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	var ss []step
	for i := range 3 {
		ss = append(ss, step{fmt.Sprint("hit ", i+1), func() error { return got(s.Hit(ctx, tn, "ip:1", long)).is(int64(i + 1)) }, nil})
	}
	steps(t, append(ss, []step{
		{"count", func() error { return got(s.Count(ctx, tn, "ip:1")).is(int64(3)) }, nil},
		{"count missing", func() error { return got(s.Count(ctx, tn, "ip:2")).is(int64(0)) }, nil},
		{"other key", func() error { return got(s.Hit(ctx, tn, "ip:2", long)).is(int64(1)) }, nil},
		{"reset", func() error { return s.ResetCounter(ctx, tn, "ip:1") }, nil},
		{"count after reset", func() error { return got(s.Count(ctx, tn, "ip:1")).is(int64(0)) }, nil},
		{"hit after reset", func() error { return got(s.Hit(ctx, tn, "ip:1", long)).is(int64(1)) }, nil},
		{"other key untouched", func() error { return got(s.Count(ctx, tn, "ip:2")).is(int64(1)) }, nil},
		{"reset missing", func() error { return s.ResetCounter(ctx, tn, "ip:3") }, nil},
		{"unhit", func() error { return s.Unhit(ctx, tn, "ip:2") }, nil},
		{"count after unhit", func() error { return got(s.Count(ctx, tn, "ip:2")).is(int64(0)) }, nil},
		{"unhit never below zero", func() error { return s.Unhit(ctx, tn, "ip:2") }, nil},
		{"count still zero", func() error { return got(s.Count(ctx, tn, "ip:2")).is(int64(0)) }, nil},
		{"unhit missing", func() error { return s.Unhit(ctx, tn, "ip:4") }, nil},
		{"hit after unhit", func() error { return got(s.Hit(ctx, tn, "ip:2", long)).is(int64(1)) }, nil},
	}...))
}
