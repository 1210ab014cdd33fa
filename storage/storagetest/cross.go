package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

func testTenantIsolation(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	a, b := h.tenant(t).ID, h.tenant(t).ID
	id := newID("shared") // every object of both tenants has this ID
	mail := id + "@contoso.example"
	mark := func(got, tn string) error {
		if got != tn {
			return fmt.Errorf("tenant %s sees %q", tn, got)
		}
		return nil
	}
	tests := []struct {
		name   string
		put    func(tn string) error // store an object marked with tn
		check  func(tn string) error // find tn's object and its mark
		remove func(tn string) error // remove or change it; nil when check consumes it
	}{
		{
			name: "users",
			put: func(tn string) error {
				u := user(id, mail, strings.ToUpper(mail))
				u.DisplayName = tn
				return s.CreateUser(ctx, tn, u, tn)
			},
			check: func(tn string) error {
				u, err := s.GetUser(ctx, tn, id)
				if err != nil {
					return err
				}
				for _, lookup := range []func() (string, error){
					func() (string, error) { return s.UserIDByMail(ctx, tn, mail) },
					func() (string, error) { return s.UserIDByUPN(ctx, tn, mail) },
				} {
					if err := got(lookup()).is(id); err != nil {
						return err
					}
				}
				if err := got(s.PasswordHash(ctx, tn, id)).is(tn); err != nil {
					return err
				}
				return mark(u.DisplayName, tn)
			},
			remove: func(tn string) error {
				return errOf(s.UpdateUser(ctx, tn, id, func(u *storage.User) error {
					u.Mail, u.UserPrincipalName = "moved-"+mail, "moved-"+mail
					return nil
				}))
			},
		},
		{
			name: "auth requests",
			put: func(tn string) error {
				ar := h.authRequest(tn)
				ar.ID, ar.State = id, tn
				return s.SaveAuthRequest(ctx, tn, ar, long)
			},
			check: func(tn string) error {
				ar, err := s.GetAuthRequest(ctx, tn, id)
				if err != nil {
					return err
				}
				return mark(ar.State, tn)
			},
			remove: func(tn string) error { return s.DeleteAuthRequest(ctx, tn, id) },
		},
		{
			name: "single-use values",
			put:  func(tn string) error { return s.PutOnce(ctx, tn, "code", id, []byte(tn), long) },
			check: func(tn string) error {
				v, err := s.TakeOnce(ctx, tn, "code", id, long)
				if err != nil {
					return err
				}
				return mark(string(v), tn)
			},
		},
		{
			name: "grants and tokens",
			put: func(tn string) error {
				g := h.grant(tn, "alice", tn, long)
				g.ID = id
				rt := h.refreshToken(g, long)
				rt.Hash = id
				return errors.Join(s.CreateGrant(ctx, tn, g), s.SaveRefreshToken(ctx, tn, rt))
			},
			check: func(tn string) error {
				gs, err := s.UserGrants(ctx, tn, "alice")
				if err != nil {
					return err
				}
				if len(gs) != 1 {
					return fmt.Errorf("tenant %s has %d grants", tn, len(gs))
				}
				rt, err := s.GetRefreshToken(ctx, tn, id)
				if err != nil {
					return err
				}
				if err := got(s.TokenActive(ctx, tn, id, id)).is(true); err != nil {
					return err
				}
				return errors.Join(mark(gs[0].ClientID, tn), mark(rt.ClientID, tn))
			},
			remove: func(tn string) error {
				return errors.Join(s.RevokeAccessToken(ctx, tn, id, h.now().Add(long)), s.RevokeGrant(ctx, tn, id))
			},
		},
		{
			name: "sessions",
			put: func(tn string) error {
				sess := h.session(tn, "alice", long)
				sess.Hash, sess.AMR = id, []string{tn}
				return s.CreateSession(ctx, tn, sess)
			},
			check: func(tn string) error {
				sess, err := s.GetSession(ctx, tn, id)
				if err != nil {
					return err
				}
				return mark(sess.AMR[0], tn)
			},
			remove: func(tn string) error { return s.DeleteUserSessions(ctx, tn, "alice") },
		},
		{
			name: "signing keys",
			put: func(tn string) error {
				return errOf(s.UpdateSigningKeys(ctx, tn, func(ks []storage.SigningKey) ([]storage.SigningKey, error) {
					return append(ks, storage.SigningKey{ID: id, TenantID: tn, Algorithm: "RS256", Status: storage.KeyCurrent}), nil
				}))
			},
			check: func(tn string) error {
				ks, err := s.SigningKeys(ctx, tn)
				if err != nil {
					return err
				}
				if len(ks) != 1 {
					return fmt.Errorf("tenant %s has %d keys", tn, len(ks))
				}
				return mark(ks[0].TenantID, tn)
			},
			remove: func(tn string) error {
				return errOf(s.UpdateSigningKeys(ctx, tn, func([]storage.SigningKey) ([]storage.SigningKey, error) { return nil, nil }))
			},
		},
		{
			name:   "counters",
			put:    func(tn string) error { return errOf(s.Hit(ctx, tn, id, long)) },
			check:  func(tn string) error { return got(s.Count(ctx, tn, id)).is(int64(1)) },
			remove: func(tn string) error { return s.ResetCounter(ctx, tn, id) },
		},
		{
			name: "flows",
			put: func(tn string) error {
				f := h.flow(tn)
				f.ID, f.Email = id, tn
				return s.CreateFlow(ctx, tn, f, long)
			},
			check: func(tn string) error {
				f, err := s.GetFlow(ctx, tn, id)
				if err != nil {
					return err
				}
				return mark(f.Email, tn)
			},
			remove: func(tn string) error {
				return errOf(s.UpdateFlow(ctx, tn, id, func(f *storage.Flow) error { f.Email = "moved-" + tn; return nil }))
			},
		},
		{
			name: "consents",
			put: func(tn string) error {
				return errOf(s.PutConsent(ctx, tn, storage.Consent{ID: id, UserID: "alice", ClientID: id, Scopes: []string{tn}}))
			},
			check: func(tn string) error {
				cs, err := s.ListConsents(ctx, tn, "alice")
				if err != nil {
					return err
				}
				if len(cs) != 1 {
					return fmt.Errorf("tenant %s has %d consents", tn, len(cs))
				}
				c, err := s.GetConsent(ctx, tn, "alice", id)
				if err != nil {
					return err
				}
				if len(c.Scopes) != 1 {
					return fmt.Errorf("tenant %s has scopes %v", tn, c.Scopes)
				}
				return mark(c.Scopes[0], tn)
			},
			remove: func(tn string) error { return errOf(s.DeleteConsent(ctx, tn, "alice", id)) },
		},
		{
			name: "audit log",
			put: func(tn string) error {
				return errOf(s.AppendAudit(ctx, tn, storage.AuditEvent{Time: h.now(), Activity: "userCreated", Actor: tn, Target: id}))
			},
			check: func(tn string) error {
				es, err := s.ListAudit(ctx, tn, 10, "")
				if err != nil {
					return err
				}
				if len(es) != 1 {
					return fmt.Errorf("tenant %s has %d audit events", tn, len(es))
				}
				return mark(es[0].Actor, tn)
			},
		},
		{
			name: "apps",
			put:  func(tn string) error { return s.CreateApp(ctx, tn, app(tn, newID("client"))) },
			check: func(tn string) error {
				as, err := s.ListApps(ctx, tn)
				if err != nil {
					return err
				}
				if len(as) != 1 {
					return fmt.Errorf("tenant %s has %d apps", tn, len(as))
				}
				return mark(as[0].TenantID, tn)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, tn := range []string{a, b} {
				must(t, tc.put(tn))
			}
			for _, tn := range []string{a, b} {
				wantErr(t, tc.check(tn), nil)
			}
			if tc.remove == nil {
				return
			}
			must(t, tc.remove(a))
			if tc.check(a) == nil {
				t.Error("the change in the first tenant did not show there")
			}
			wantErr(t, tc.check(b), nil)
		})
	}
}

// testExpiry creates every kind of expiring state at once, then looks at
// it halfway through its TTL and just after it, advancing the clock twice.
func testExpiry(t *testing.T, h *Harness) {
	const ttl = 1500 * time.Millisecond
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	ar, code, tomb := h.authRequest(tn), newID("code"), newID("code")
	g, rtGrant, jtiGrant := h.grant(tn, "alice", "app", ttl), h.grant(tn, "bob", "app", long), h.grant(tn, "carol", "app", long)
	rt, sess, jti := h.refreshToken(rtGrant, ttl), h.session(tn, "alice", ttl), newID("jti")
	fl := h.flow(tn)
	tests := []struct {
		name            string
		start, mid, end func(t *testing.T)
	}{
		{
			name:  "auth request keeps its TTL when updated",
			start: func(t *testing.T) { must(t, s.SaveAuthRequest(ctx, tn, ar, ttl)) },
			mid: func(t *testing.T) {
				must(t, errOf(s.UpdateAuthRequest(ctx, tn, ar.ID, func(p *storage.AuthRequest) error { p.Done = true; return nil })))
			},
			end: func(t *testing.T) { wantErr(t, errOf(s.GetAuthRequest(ctx, tn, ar.ID)), storage.ErrNotFound) },
		},
		{
			name:  "flow keeps its TTL when updated",
			start: func(t *testing.T) { must(t, s.CreateFlow(ctx, tn, fl, ttl)) },
			mid: func(t *testing.T) {
				must(t, errOf(s.UpdateFlow(ctx, tn, fl.ID, func(f *storage.Flow) error { f.CodeAttempts++; return nil })))
				wantErr(t, s.CreateFlow(ctx, tn, fl, ttl), storage.ErrExists)
			},
			end: func(t *testing.T) {
				wantErr(t, errOf(s.GetFlow(ctx, tn, fl.ID)), storage.ErrNotFound)
				wantErr(t, errOf(s.UpdateFlow(ctx, tn, fl.ID, func(*storage.Flow) error { return nil })), storage.ErrNotFound)
			},
		},
		{
			name:  "single-use value",
			start: func(t *testing.T) { must(t, s.PutOnce(ctx, tn, "code", code, []byte("v"), ttl)) },
			mid:   func(t *testing.T) { wantErr(t, s.PutOnce(ctx, tn, "code", code, []byte("w"), ttl), storage.ErrExists) },
			end:   func(t *testing.T) { wantErr(t, errOf(s.TakeOnce(ctx, tn, "code", code, long)), storage.ErrNotFound) },
		},
		{
			name: "tombstone lives keep from the first take",
			start: func(t *testing.T) {
				must(t, s.PutOnce(ctx, tn, "code", tomb, []byte("v"), long))
				wantErr(t, got(s.TakeOnce(ctx, tn, "code", tomb, ttl)).is([]byte("v")), nil)
			},
			mid: func(t *testing.T) {
				wantErr(t, got(s.TakeOnce(ctx, tn, "code", tomb, ttl)).is([]byte("v")), storage.ErrConsumed)
			},
			end: func(t *testing.T) { wantErr(t, errOf(s.TakeOnce(ctx, tn, "code", tomb, ttl)), storage.ErrNotFound) },
		},
		{
			name:  "grant",
			start: func(t *testing.T) { must(t, s.CreateGrant(ctx, tn, g)) },
			mid: func(t *testing.T) {
				wantErr(t, got(s.GetGrant(ctx, tn, g.ID)).is(g), nil)
				wantErr(t, got(s.TokenActive(ctx, tn, g.ID, newID("jti"))).is(true), nil)
			},
			end: func(t *testing.T) {
				wantErr(t, errOf(s.GetGrant(ctx, tn, g.ID)), storage.ErrNotFound)
				wantErr(t, got(s.TokenActive(ctx, tn, g.ID, newID("jti"))).is(false), nil)
				wantErr(t, none(s.UserGrants(ctx, tn, "alice")), nil)
			},
		},
		{
			name: "refresh token",
			start: func(t *testing.T) {
				must(t, s.CreateGrant(ctx, tn, rtGrant))
				must(t, s.SaveRefreshToken(ctx, tn, rt))
			},
			mid: func(t *testing.T) { wantErr(t, got(s.GetRefreshToken(ctx, tn, rt.Hash)).is(rt), nil) },
			end: func(t *testing.T) {
				wantErr(t, errOf(s.GetRefreshToken(ctx, tn, rt.Hash)), storage.ErrNotFound)
				wantErr(t, s.RotateRefreshToken(ctx, tn, rt.Hash, h.refreshToken(rtGrant, long), storage.Rotation{}), storage.ErrNotFound)
			},
		},
		{
			name:  "session",
			start: func(t *testing.T) { must(t, s.CreateSession(ctx, tn, sess)) },
			mid:   func(t *testing.T) { wantErr(t, got(s.GetSession(ctx, tn, sess.Hash)).is(sess), nil) },
			end:   func(t *testing.T) { wantErr(t, errOf(s.GetSession(ctx, tn, sess.Hash)), storage.ErrNotFound) },
		},
		{
			name:  "counter window starts at the first hit",
			start: func(t *testing.T) { wantErr(t, got(s.Hit(ctx, tn, "k", ttl)).is(int64(1)), nil) },
			mid:   func(t *testing.T) { wantErr(t, got(s.Hit(ctx, tn, "k", ttl)).is(int64(2)), nil) },
			end: func(t *testing.T) {
				wantErr(t, got(s.Count(ctx, tn, "k")).is(int64(0)), nil)
				wantErr(t, got(s.Hit(ctx, tn, "k", ttl)).is(int64(1)), nil)
			},
		},
		{
			name: "access token revocation",
			start: func(t *testing.T) {
				must(t, s.CreateGrant(ctx, tn, jtiGrant))
				must(t, s.RevokeAccessToken(ctx, tn, jti, h.now().Add(ttl)))
			},
			mid: func(t *testing.T) { wantErr(t, got(s.TokenActive(ctx, tn, jtiGrant.ID, jti)).is(false), nil) },
			end: func(t *testing.T) { wantErr(t, got(s.TokenActive(ctx, tn, jtiGrant.ID, jti)).is(true), nil) },
		},
	}
	phases := []struct {
		name    string
		advance time.Duration
		run     func(tc int) func(t *testing.T)
	}{
		{"start", 0, func(i int) func(*testing.T) { return tests[i].start }},
		{"halfway", ttl / 2, func(i int) func(*testing.T) { return tests[i].mid }},
		{"after", ttl * 8 / 10, func(i int) func(*testing.T) { return tests[i].end }},
	}
	for _, p := range phases {
		h.Advance(p.advance)
		for i, tc := range tests {
			t.Run(p.name+"/"+tc.name, p.run(i))
		}
	}
}

// hammer runs call(i) for i in [0, n) in parallel, retrying each on
// storage.ErrConflict, and returns the errors.
func hammer(n int, call func(i int) error) (errs []error, conflicts int64) {
	var (
		wg   sync.WaitGroup
		lost atomic.Int64
	)
	errs = make([]error, n)
	for i := range n {
		wg.Go(func() {
			for range 1000 {
				if errs[i] = call(i); !errors.Is(errs[i], storage.ErrConflict) {
					return
				}
				lost.Add(1)
			}
		})
	}
	wg.Wait()
	return errs, lost.Load()
}

func testConcurrentUpdates(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tests := []struct {
		name string
		n    int
		// setup returns the update of goroutine i and the final check.
		setup func(t *testing.T, tn string) (update func(i int) error, check func(t *testing.T))
	}{
		{"UpdateTenant", 100, func(t *testing.T, tn string) (func(int) error, func(*testing.T)) {
			return func(int) error {
					return errOf(s.UpdateTenant(ctx, tn, func(t *storage.Tenant) error { t.PasswordMinLength++; return nil }))
				}, func(t *testing.T) {
					tenant, err := s.GetTenant(ctx, tn)
					must(t, err)
					if tenant.PasswordMinLength != 100 {
						t.Errorf("counted %d of 100 increments", tenant.PasswordMinLength)
					}
				}
		}},
		{"UpdateUser", 100, func(t *testing.T, tn string) (func(int) error, func(*testing.T)) {
			id := newID("user")
			must(t, s.CreateUser(ctx, tn, user(id, "", id+"@contoso.example"), ""))
			return func(i int) error {
					return errOf(s.UpdateUser(ctx, tn, id, func(u *storage.User) error {
						u.Roles = append(u.Roles, fmt.Sprint("role", i))
						return nil
					}))
				}, func(t *testing.T) {
					u, err := s.GetUser(ctx, tn, id)
					must(t, err)
					if slices.Sort(u.Roles); len(slices.Compact(u.Roles)) != 100 {
						t.Errorf("kept %d of 100 roles", len(u.Roles))
					}
				}
		}},
		{"UpdateSigningKeys", 16, func(t *testing.T, tn string) (func(int) error, func(*testing.T)) {
			return func(i int) error {
					return errOf(s.UpdateSigningKeys(ctx, tn, func(ks []storage.SigningKey) ([]storage.SigningKey, error) {
						return append(ks, storage.SigningKey{ID: fmt.Sprint("kid", i), TenantID: tn, Algorithm: "ES256", Status: storage.KeyNext}), nil
					}))
				}, func(t *testing.T) {
					ks, err := s.SigningKeys(ctx, tn)
					must(t, err)
					if len(ks) != 16 {
						t.Errorf("kept %d of 16 keys", len(ks))
					}
				}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			update, check := tc.setup(t, h.tenant(t).ID)
			errs, conflicts := hammer(tc.n, update)
			wantErr(t, errors.Join(errs...), nil)
			check(t)
			t.Logf("%d updates retried after storage.ErrConflict", conflicts)
		})
	}
}

// testConcurrentCreates races 16 creates of one unique thing: exactly one
// wins and the others get storage.ErrExists.
func testConcurrentCreates(t *testing.T, h *Harness) {
	const n = 16
	ctx, s := t.Context(), h.Store
	tenants := make([]string, n)
	for i := range tenants {
		tenants[i] = h.tenant(t).ID
	}
	tn, name, client, domain, id := tenants[0], newID("name"), newID("client"), newID("d")+".example", newID("id")
	mail := id + "@contoso.example"
	tests := []struct {
		name   string
		create func(i int) error
	}{
		{"tenant name", func(int) error {
			return s.CreateTenant(ctx, storage.Tenant{ID: newID("tenant"), Name: name, Kind: storage.External})
		}},
		{"client ID", func(i int) error { return s.CreateApp(ctx, tenants[i], app(tenants[i], client)) }},
		{"domain", func(i int) error { return s.AddDomain(ctx, tenants[i], domain) }},
		{"user ID", func(i int) error {
			return s.CreateUser(ctx, tn, user(id, fmt.Sprint("id", i, mail), fmt.Sprint("id", i, mail)), "")
		}},
		{"mail", func(i int) error {
			return s.CreateUser(ctx, tn, user(newID("user"), mail, fmt.Sprint("mail", i, mail)), "")
		}},
		{"UPN", func(i int) error {
			upn := "upn-" + mail
			if i%2 == 1 {
				upn = strings.ToUpper(upn)
			}
			return s.CreateUser(ctx, tn, user(newID("user"), fmt.Sprint("upn", i, mail), upn), "")
		}},
		{"grant ID", func(int) error {
			g := h.grant(tn, "alice", "app", long)
			g.ID = id
			return s.CreateGrant(ctx, tn, g)
		}},
		{"auth request ID", func(int) error {
			ar := h.authRequest(tn)
			ar.ID = id
			return s.SaveAuthRequest(ctx, tn, ar, long)
		}},
		{"single-use value", func(i int) error { return s.PutOnce(ctx, tn, "code", id, []byte(fmt.Sprint(i)), long) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, _ := hammer(n, tc.create)
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else {
					wantErr(t, err, storage.ErrExists)
				}
			}
			if won != 1 {
				t.Errorf("%d of %d creates won, want 1", won, n)
			}
		})
	}
}

func testConcurrentTakeOnce(t *testing.T, h *Harness) {
	const n = 16
	ctx, s := t.Context(), h.Store
	tn, id := h.tenant(t).ID, newID("code")
	must(t, s.PutOnce(ctx, tn, "code", id, []byte("grant-1"), long))
	var won atomic.Int64
	errs, _ := hammer(n, func(int) error {
		v, err := s.TakeOnce(ctx, tn, "code", id, long)
		if err == nil {
			won.Add(1)
		} else if !errors.Is(err, storage.ErrConsumed) {
			return err
		}
		return got(v, nil).is([]byte("grant-1"))
	})
	wantErr(t, errors.Join(errs...), nil)
	if won.Load() != 1 {
		t.Errorf("%d of %d takes won, want 1", won.Load(), n)
	}
}

func testConcurrentRotation(t *testing.T, h *Harness) {
	const n = 16
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	g := h.grant(tn, "alice", "app", long)
	old := h.refreshToken(g, long)
	must(t, s.CreateGrant(ctx, tn, g))
	must(t, s.SaveRefreshToken(ctx, tn, old))
	next := make([]storage.RefreshToken, n)
	for i := range next {
		next[i] = h.refreshToken(g, long)
	}
	errs, _ := hammer(n, func(i int) error { return s.RotateRefreshToken(ctx, tn, old.Hash, next[i], storage.Rotation{}) })
	winner, consumed := -1, 0
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("rotations %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case errors.Is(err, storage.ErrConsumed):
			consumed++
		case !errors.Is(err, storage.ErrNotFound): // the grant may be gone already
			t.Errorf("rotation %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rotation won")
	}
	if consumed == 0 {
		t.Error("no losing rotation reported the replay")
	}
	wantErr(t, errOf(s.GetGrant(ctx, tn, g.ID)), storage.ErrNotFound)
	wantErr(t, errOf(s.GetRefreshToken(ctx, tn, next[winner].Hash)), storage.ErrNotFound)
	wantErr(t, got(s.TokenActive(ctx, tn, g.ID, newID("jti"))).is(false), nil)
}

// testUnavailable stops the backend: every verb must then return
// storage.ErrUnavailable and mark the request's FailureTracker.
func testUnavailable(t *testing.T, h *Harness) {
	if h.Stop == nil {
		t.Skip("the harness cannot stop its backend")
	}
	s := h.Store
	tn := h.tenant(t).ID
	h.Stop()
	g := h.grant(tn, "alice", "app", long)
	noop := func(*storage.User) error { return nil }
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"CreateTenant", func(ctx context.Context) error {
			return s.CreateTenant(ctx, storage.Tenant{ID: newID("tenant"), Name: newID("name")})
		}},
		{"GetTenant", func(ctx context.Context) error { return errOf(s.GetTenant(ctx, tn)) }},
		{"ListTenants", func(ctx context.Context) error { return errOf(s.ListTenants(ctx)) }},
		{"AddDomain", func(ctx context.Context) error { return s.AddDomain(ctx, tn, "contoso.example") }},
		{"GetApp", func(ctx context.Context) error { return errOf(s.GetApp(ctx, tn, "client")) }},
		{"CreateUser", func(ctx context.Context) error { return s.CreateUser(ctx, tn, user("u", "", "u@x"), "") }},
		{"UpdateUser", func(ctx context.Context) error { return errOf(s.UpdateUser(ctx, tn, "u", noop)) }},
		{"UserIDByUPN", func(ctx context.Context) error { return errOf(s.UserIDByUPN(ctx, tn, "u@x")) }},
		{"PasswordHash", func(ctx context.Context) error { return errOf(s.PasswordHash(ctx, tn, "u")) }},
		{"GetAuthRequest", func(ctx context.Context) error { return errOf(s.GetAuthRequest(ctx, tn, "ar")) }},
		{"TakeOnce", func(ctx context.Context) error { return errOf(s.TakeOnce(ctx, tn, "code", "c", long)) }},
		{"CreateGrant", func(ctx context.Context) error { return s.CreateGrant(ctx, tn, g) }},
		{"RevokeUserGrants", func(ctx context.Context) error { return errOf(s.RevokeUserGrants(ctx, tn, "alice", "")) }},
		{"GetRefreshToken", func(ctx context.Context) error { return errOf(s.GetRefreshToken(ctx, tn, "rt")) }},
		{"RotateRefreshToken", func(ctx context.Context) error {
			return s.RotateRefreshToken(ctx, tn, "rt", h.refreshToken(g, long), storage.Rotation{})
		}},
		{"TokenActive", func(ctx context.Context) error { return errOf(s.TokenActive(ctx, tn, g.ID, "jti")) }},
		{"TokenUser", func(ctx context.Context) error { return tokenUser(s.TokenUser(ctx, tn, g.ID, "jti", tn, "u")).err }},
		{"TokenUser of another tenant", func(ctx context.Context) error {
			return tokenUser(s.TokenUser(ctx, tn, g.ID, "jti", storage.CommonTenantID, "u")).err
		}},
		{"GetSession", func(ctx context.Context) error { return errOf(s.GetSession(ctx, tn, "s")) }},
		{"UpdateSigningKeys", func(ctx context.Context) error {
			return errOf(s.UpdateSigningKeys(ctx, tn, func(ks []storage.SigningKey) ([]storage.SigningKey, error) { return ks, nil }))
		}},
		{"Hit", func(ctx context.Context) error { return errOf(s.Hit(ctx, tn, "k", long)) }},
		{"Count", func(ctx context.Context) error { return errOf(s.Count(ctx, tn, "k")) }},
		{"CreateFlow", func(ctx context.Context) error { return s.CreateFlow(ctx, tn, h.flow(tn), long) }},
		{"GetFlow", func(ctx context.Context) error { return errOf(s.GetFlow(ctx, tn, "f")) }},
		{"UpdateFlow", func(ctx context.Context) error {
			return errOf(s.UpdateFlow(ctx, tn, "f", func(*storage.Flow) error { return nil }))
		}},
		{"DeleteFlow", func(ctx context.Context) error { return s.DeleteFlow(ctx, tn, "f") }},
		{"AppendAudit", func(ctx context.Context) error {
			return errOf(s.AppendAudit(ctx, tn, storage.AuditEvent{Time: h.now(), Activity: "userCreated"}))
		}},
		{"ListAudit", func(ctx context.Context) error { return errOf(s.ListAudit(ctx, tn, 10, "")) }},
		{"PutConsent", func(ctx context.Context) error {
			return errOf(s.PutConsent(ctx, tn, storage.Consent{UserID: "alice", ClientID: "app", Scopes: []string{"openid"}}))
		}},
		{"GetConsent", func(ctx context.Context) error { return errOf(s.GetConsent(ctx, tn, "alice", "app")) }},
		{"ListConsents", func(ctx context.Context) error { return errOf(s.ListConsents(ctx, tn, "alice")) }},
		{"DeleteConsent", func(ctx context.Context) error { return errOf(s.DeleteConsent(ctx, tn, "alice", "c")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, tracker := storage.TrackFailures(t.Context())
			err := tc.call(ctx)
			if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got error %v, want only %v", err, storage.ErrUnavailable)
			}
			if !tracker.Failed() {
				t.Error("the failure tracker was not marked")
			}
		})
	}
}
