package redisstore

import (
	"bytes"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/faultproxy"
)

// TestResentOneShotScripts runs each one-shot operation through a fault
// proxy that loses its first reply (held back past the read timeout, or
// the connection dropped after the command was written), with go-redis's
// default retries: the client resends the command, which already ran. The
// operation must answer as its first run did. Resends are counted, so the
// test fails if none happened.
func TestResentOneShotScripts(t *testing.T) {
	target := ""
	if u := os.Getenv(redisURLEnv); u != "" {
		opt, err := redis.ParseURL(u)
		must(t, err)
		target = opt.Addr
	} else {
		e, err := NewEmbedded()
		must(t, err)
		t.Cleanup(func() { e.Close() })
		target = e.Server.Addr()
	}
	p, err := faultproxy.Start(target)
	must(t, err)
	t.Cleanup(func() { p.Close() })
	opt := &redis.Options{Addr: p.Addr(), ReadTimeout: 500 * time.Millisecond} // default retries: 3
	if u := os.Getenv(redisURLEnv); u != "" {
		o, _ := redis.ParseURL(u)
		opt.DB, opt.Username, opt.Password = o.DB, o.Username, o.Password
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	s := New(client, Config{})
	ctx := t.Context()
	tn := "resend-" + storage.NewID()
	must(t, s.CreateTenant(ctx, storage.Tenant{ID: tn, Name: "resend-" + storage.NewID(), Kind: storage.External}))

	faults := map[string]func(m faultproxy.Match){
		"late":    func(m faultproxy.Match) { p.DelayReply(m, 2*time.Second, 1) },
		"dropped": func(m faultproxy.Match) { p.DropAfterRequest(m, 1) },
	}
	// lose makes the next command matching m lose its reply, counts the
	// resends, and checks after op that the fault fired and the command
	// was resent.
	lose := func(t *testing.T, fault func(faultproxy.Match), m faultproxy.Match, op func() error) {
		t.Helper()
		before := p.Matched()
		fault(m)
		var resent atomic.Int64
		p.DelayReply(func(c []byte) bool {
			if m(c) {
				resent.Add(1)
			}
			return false
		}, 0, 1)
		err := op()
		p.ClearRules()
		if p.Matched() == before || resent.Load() == 0 {
			t.Fatalf("fault fired: %v, resends: %d: the test proves nothing", p.Matched() > before, resent.Load())
		}
		if err != nil {
			t.Fatalf("the operation whose reply was lost: %v", err)
		}
	}
	// The scripts are loaded first, so that the lost reply is the script's
	// own and not NOSCRIPT.
	for _, sc := range []*redis.Script{takeOnce, rotate, createUser, putIndexed, casScript, deleteConsent, createNX, claimField, hit, unhit, appendAudit} {
		must(t, sc.Load(ctx, client).Err())
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			t.Run("TakeOnce", func(t *testing.T) {
				id := storage.NewID()
				must(t, s.PutOnce(ctx, tn, "code", id, []byte("v"), time.Minute))
				lose(t, fault, faultproxy.Contains(":once:code:"+id), func() error {
					v, err := s.TakeOnce(ctx, tn, "code", id, time.Minute)
					if err == nil && string(v) != "v" {
						t.Errorf("took %q", v)
					}
					return err
				})
			})
			t.Run("RotateRefreshToken", func(t *testing.T) {
				now := time.Now()
				g := storage.Grant{ID: storage.NewID(), UserID: "u", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				rt := func() storage.RefreshToken {
					return storage.RefreshToken{Hash: storage.NewID(), GrantID: g.ID, UserID: "u", ClientID: "c", ExpiresAt: g.ExpiresAt}
				}
				must(t, s.CreateGrant(ctx, tn, g))
				old, next := rt(), rt()
				must(t, s.SaveRefreshToken(ctx, tn, old))
				// No reuse window: only the operation ID tells the resend.
				lose(t, fault, faultproxy.Contains(":refresh:"+next.Hash), func() error {
					return s.RotateRefreshToken(ctx, tn, old.Hash, next, storage.Rotation{})
				})
				if _, err := s.GetGrant(ctx, tn, g.ID); err != nil {
					t.Fatalf("the grant was revoked: %v", err)
				}
			})
			t.Run("CreateUser", func(t *testing.T) {
				u := storage.User{ID: storage.NewID(), Mail: storage.NewID() + "@example.com", UserPrincipalName: storage.NewID() + "@example.com"}
				lose(t, fault, script(":user:"+u.ID), func() error { return s.CreateUser(ctx, tn, u, "hash") })
			})
			t.Run("CreateGrant", func(t *testing.T) {
				now := time.Now()
				g := storage.Grant{ID: storage.NewID(), UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				lose(t, fault, script(":grant:"+g.ID), func() error { return s.CreateGrant(ctx, tn, g) })
			})
			t.Run("UpdateFlow", func(t *testing.T) {
				f := storage.Flow{ID: storage.NewID(), Kind: storage.FlowSignUp, Step: "code"}
				must(t, s.CreateFlow(ctx, tn, f, time.Minute))
				var got storage.Flow
				lose(t, fault, script(":flow:"+f.ID), func() error {
					var err error
					got, err = s.UpdateFlow(ctx, tn, f.ID, func(f *storage.Flow) error { f.CodeAttempts++; return nil })
					return err
				})
				stored, err := s.GetFlow(ctx, tn, f.ID)
				must(t, err)
				if got.CodeAttempts != 1 || stored.CodeAttempts != 1 {
					t.Fatalf("attempts returned %d, stored %d; want 1 and 1", got.CodeAttempts, stored.CodeAttempts)
				}
			})
			t.Run("Hit and Unhit", func(t *testing.T) {
				k := storage.NewID()
				lose(t, fault, script(":counter:"+k), func() error {
					n, err := s.Hit(ctx, tn, k, time.Minute)
					if err == nil && n != 1 {
						t.Errorf("hit returned %d, want 1", n)
					}
					return err
				})
				_, err := s.Hit(ctx, tn, k, time.Minute)
				must(t, err)
				lose(t, fault, script(":counter:"+k), func() error { return s.Unhit(ctx, tn, k) })
				if n, err := s.Count(ctx, tn, k); err != nil || n != 1 {
					t.Fatalf("count %d, %v; want 1", n, err)
				}
			})
			t.Run("AppendAudit", func(t *testing.T) {
				atn := "resend-" + storage.NewID()
				lose(t, fault, script(":audit"), func() error {
					_, err := s.AppendAudit(ctx, atn, storage.AuditEvent{Activity: "x"})
					return err
				})
				if es, err := s.ListAudit(ctx, atn, 10, ""); err != nil || len(es) != 1 {
					t.Fatalf("audit has %d events, %v; want 1", len(es), err)
				}
			})
			t.Run("DeleteConsent", func(t *testing.T) {
				c, err := s.PutConsent(ctx, tn, storage.Consent{UserID: "u", ClientID: storage.NewID(), Scopes: []string{"openid"}})
				must(t, err)
				lose(t, fault, script(":consent:u:"+c.ClientID), func() error {
					got, err := s.DeleteConsent(ctx, tn, "u", c.ID)
					if err == nil && got.ID != c.ID {
						t.Errorf("deleted %+v, want %+v", got, c)
					}
					return err
				})
			})
		})
	}
}

// script matches the chunk of a one-shot script's command (it names the
// operation's key) that names key.
func script(key string) faultproxy.Match {
	return func(c []byte) bool { return bytes.Contains(c, []byte(key)) && bytes.Contains(c, []byte("}:op:")) }
}
