package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/storage/faultproxy"
	"github.com/foyer-id/foyer/storage/redisstore"
)

// These tests put a fault-injecting proxy between Foyer and Redis (the
// embedded server, or FOYER_TEST_REDIS_URL's) and keep go-redis's default
// retries on. A reply held back past the client's read timeout, or a
// connection dropped after the command was written, makes go-redis send the
// command again although it ran: the one-shot operations of a refresh, a
// code exchange and a sign-up must answer the resend as the first run and
// never revoke or refuse the legitimate client. When every attempt is late
// the request answers 503 and the client's own retry must succeed. A real
// replay is still caught afterwards.

const (
	// retryReadTimeout is the store client's read timeout in these tests;
	// late is how late a delayed reply comes, well past it.
	retryReadTimeout = 500 * time.Millisecond
	late             = 2 * time.Second
	// allAttempts is go-redis's first attempt and its 3 default retries.
	allAttempts = 4
)

// startProxiedEnv starts Foyer on a Redis reached through a fault proxy,
// with go-redis's default retries and a short read timeout.
func startProxiedEnv(t *testing.T) (*testEnv, *faultproxy.Proxy) {
	t.Helper()
	target, db := "", "0"
	if u := os.Getenv("FOYER_TEST_REDIS_URL"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		target, db = opt.Addr, strings.TrimPrefix(strings.TrimPrefix(u, strings.SplitN(u, "/", 4)[0]+"//"+strings.SplitN(u, "/", 4)[2]), "/")
		if db == "" {
			db = "0"
		}
	} else {
		e, err := redisstore.NewEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		target = e.Server.Addr()
	}
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	env := startEnv(t, func(c *Config) {
		c.RedisURL = "redis://" + p.Addr() + "/" + db + "?read_timeout=" + retryReadTimeout.String()
	})
	return env, p
}

// resends installs, after the fault rules, a rule that only counts the
// chunks matching m that the fault rules let through: the resends.
func resends(p *faultproxy.Proxy, m faultproxy.Match) *atomic.Int64 {
	var n atomic.Int64
	p.DelayReply(func(c []byte) bool {
		if m(c) {
			n.Add(1)
		}
		return false
	}, 0, 1)
	return &n
}

// faults are the ways a one-shot command's reply gets lost after the
// command ran, each followed by go-redis resending it.
var faults = []struct {
	name   string
	inject func(p *faultproxy.Proxy, m faultproxy.Match)
}{
	{"reply late", func(p *faultproxy.Proxy, m faultproxy.Match) { p.DelayReply(m, late, 1) }},
	{"connection dropped", func(p *faultproxy.Proxy, m faultproxy.Match) { p.DropAfterRequest(m, 1) }},
}

// checkFault fails the test unless the fault rule fired and the command was
// sent again.
func checkFault(t *testing.T, p *faultproxy.Proxy, matchedBefore int, resent *atomic.Int64) {
	t.Helper()
	if p.Matched() == matchedBefore {
		t.Fatal("the fault was never injected")
	}
	if resent.Load() == 0 {
		t.Fatal("go-redis did not resend the command: the test proves nothing")
	}
	p.ClearRules()
}

// isRotation matches the refresh-token rotation script: its command names
// the old token's key and the successor's.
func isRotation(c []byte) bool { return bytes.Count(c, []byte(":refresh:")) >= 2 }

// statusOf returns the HTTP status of a failed token request.
func statusOf(err error) int {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

func TestRetriedRefresh(t *testing.T) {
	env, p := startProxiedEnv(t)
	c := env.rp(env.a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	code, verifier, _ := c.login(env.browser(), env.a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	// A first refresh loads the rotation script into the server.
	if tok, err = c.refresh(tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			before := p.Matched()
			f.inject(p, isRotation)
			resent := resends(p, isRotation)
			next, err := c.refresh(tok.RefreshToken)
			checkFault(t, p, before, resent)
			if err != nil {
				t.Fatalf("refresh whose reply was lost: %v", err)
			}
			if _, err := c.userinfo(next.AccessToken); err != nil {
				t.Fatalf("the grant was revoked: %v", err)
			}
			tok = next
		})
	}
	t.Run("the client's retry while the first request runs", func(t *testing.T) {
		// However the two interleave, both get the same successor.
		const n = 4
		got := make(chan string, n)
		for range n {
			go func() {
				next, err := c.refresh(tok.RefreshToken)
				if err != nil {
					t.Errorf("concurrent refresh: %v", err)
					got <- ""
					return
				}
				got <- next.RefreshToken
			}()
		}
		first := <-got
		for range n - 1 {
			if rt := <-got; rt != first {
				t.Fatalf("concurrent refreshes got %q and %q, want one successor", first, rt)
			}
		}
		next, err := c.refresh(first)
		if err != nil {
			t.Fatalf("refresh with the successor: %v", err)
		}
		tok = next
	})
	t.Run("every attempt late: 503, then the client's retry", func(t *testing.T) {
		before := p.Matched()
		p.DelayReply(isRotation, late, allAttempts)
		_, err := c.refresh(tok.RefreshToken)
		if statusOf(err) != http.StatusServiceUnavailable {
			t.Fatalf("refresh with every reply late: %v, want 503", err)
		}
		if p.Matched()-before != allAttempts {
			t.Fatalf("%d attempts reached Redis, want %d", p.Matched()-before, allAttempts)
		}
		p.ClearRules()
		retry, err := c.refresh(tok.RefreshToken)
		if err != nil {
			t.Fatalf("the client's retry: %v", err)
		}
		if _, err := c.userinfo(retry.AccessToken); err != nil {
			t.Fatalf("the grant was revoked: %v", err)
		}
		// The successor is the same however often the client repeats.
		again, err := c.refresh(tok.RefreshToken)
		if err != nil || again.RefreshToken != retry.RefreshToken {
			t.Fatalf("repeated refresh: %v, %v; want the same successor", again, err)
		}
		old := tok
		if tok, err = c.refresh(retry.RefreshToken); err != nil {
			t.Fatalf("refresh with the successor: %v", err)
		}
		// Now that the successor was used, the old token is a replay.
		if _, err := c.refresh(old.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("replay after the fault: %v, want invalid_grant", err)
		}
		if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("the replay did not revoke the family: %v", err)
		}
	})
}

func TestRetriedCodeExchange(t *testing.T) {
	env, p := startProxiedEnv(t)
	c := env.rp(env.a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	b := env.browser()
	// A first exchange loads the scripts into the server.
	code, verifier, _ := c.login(b, env.a)
	if _, err := c.exchange(code, verifier); err != nil {
		t.Fatal(err)
	}
	take := faultproxy.Contains(":once:code:")
	createGrant := faultproxy.Contains(":user-grants:")
	for _, f := range faults {
		for _, step := range []struct {
			name  string
			match faultproxy.Match
		}{{"take the code", take}, {"create the grant", createGrant}} {
			t.Run(f.name+" at "+step.name, func(t *testing.T) {
				code, verifier, _ := c.login(b, env.a)
				before := p.Matched()
				f.inject(p, step.match)
				resent := resends(p, step.match)
				tok, err := c.exchange(code, verifier)
				checkFault(t, p, before, resent)
				if err != nil {
					t.Fatalf("exchange whose reply was lost: %v", err)
				}
				if _, err := c.refresh(tok.RefreshToken); err != nil {
					t.Fatalf("the grant was revoked: %v", err)
				}
			})
		}
	}
	for _, step := range []struct {
		name  string
		match faultproxy.Match
	}{{"take the code", take}, {"create the grant", createGrant}} {
		t.Run("every attempt late at "+step.name+": 503, then the client's retry", func(t *testing.T) {
			code, verifier, _ := c.login(b, env.a)
			before := p.Matched()
			p.DelayReply(step.match, late, allAttempts)
			_, err := c.exchange(code, verifier)
			if statusOf(err) != http.StatusServiceUnavailable {
				t.Fatalf("exchange with every reply late: %v, want 503", err)
			}
			if p.Matched()-before != allAttempts {
				t.Fatalf("%d attempts reached Redis, want %d", p.Matched()-before, allAttempts)
			}
			p.ClearRules()
			// Another client's try, without the verifier, is refused.
			if _, err := c.exchange(code, oauth2.GenerateVerifier()); oauthError(err) != "invalid_grant" {
				t.Fatalf("exchange with the wrong verifier: %v, want invalid_grant", err)
			}
			tok, err := c.exchange(code, verifier)
			if err != nil {
				// The wrong verifier was a replay: it revoked the grant.
				if oauthError(err) != "invalid_grant" {
					t.Fatalf("the client's retry: %v", err)
				}
				return
			}
			t.Fatalf("the client's retry after a replay got tokens: %+v", tok)
		})
		t.Run("every attempt late at "+step.name+": the client's retry succeeds", func(t *testing.T) {
			code, verifier, _ := c.login(b, env.a)
			p.DelayReply(step.match, late, allAttempts)
			if _, err := c.exchange(code, verifier); statusOf(err) != http.StatusServiceUnavailable {
				t.Fatalf("exchange with every reply late: %v, want 503", err)
			}
			p.ClearRules()
			tok, err := c.exchange(code, verifier)
			if err != nil {
				t.Fatalf("the client's retry: %v", err)
			}
			again, err := c.exchange(code, verifier)
			if err != nil || again.RefreshToken != tok.RefreshToken {
				t.Fatalf("repeated exchange: %v, %v; want the same refresh token", again, err)
			}
			next, err := c.refresh(tok.RefreshToken)
			if err != nil {
				t.Fatalf("refresh after the retried exchange: %v", err)
			}
			// The refresh token was used: the code is a replay now.
			if _, err := c.exchange(code, verifier); oauthError(err) != "invalid_grant" {
				t.Fatalf("code replay after the fault: %v, want invalid_grant", err)
			}
			if _, err := c.refresh(next.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("the code replay did not revoke the grant: %v", err)
			}
		})
	}
}

func TestRetriedSignUp(t *testing.T) {
	env, p := startProxiedEnv(t)
	c := env.rp(env.a, true, oidc.ScopeOpenID, "email", "profile")
	createUser := faultproxy.Contains(":password:")
	// profilePage runs a sign-up to its last page.
	profilePage := func(t *testing.T) (*browser, page, string, string) {
		b := env.browser()
		verifier := oauth2.GenerateVerifier()
		pg := b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "create")))
		addr := "retry+" + suffix() + "@example.com"
		pg = b.submit(pg, map[string]string{"email": addr})
		code := env.lastCode(addr)
		if code == "" {
			t.Fatalf("no code mailed to %s", addr)
		}
		pg = b.submit(pg, map[string]string{"code": code})
		if pg.status != http.StatusOK || !strings.Contains(pg.body, "Finish creating your account") {
			t.Fatalf("after code: %d %s", pg.status, pg.body)
		}
		return b, pg, addr, verifier
	}
	profile := map[string]string{"displayName": "Retry Customer", "givenName": "Retry", "surname": "Customer",
		"password": "a long and unusual passphrase " + suffix()}
	// done checks that the sign-up ended in one account and a code the
	// app can exchange.
	done := func(t *testing.T, pg page, addr, verifier string) {
		t.Helper()
		q := redirected(t, pg)
		tok, err := c.exchange(q.Get("code"), verifier)
		if err != nil {
			t.Fatalf("exchange after sign-up: %v", err)
		}
		idt, err := c.verifier.Verify(env.ctx(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		id, err := env.app.store.UserIDByMail(t.Context(), env.a.id, addr)
		if err != nil || id != idt.Subject {
			t.Fatalf("account %q, %v; the ID token names %q", id, err, idt.Subject)
		}
		users, err := env.app.store.ListUsers(t.Context(), env.a.id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, u := range users {
			if u.Mail == addr {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d accounts at %s, want 1", n, addr)
		}
	}
	// A first sign-up loads the script into the server.
	b, pg, addr, verifier := profilePage(t)
	done(t, b.submit(pg, profile), addr, verifier)

	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			b, pg, addr, verifier := profilePage(t)
			before := p.Matched()
			f.inject(p, createUser)
			resent := resends(p, createUser)
			pg = b.submit(pg, profile)
			checkFault(t, p, before, resent)
			done(t, pg, addr, verifier)
		})
	}
	t.Run("every attempt late: 503, then the person submits again", func(t *testing.T) {
		b, pg, addr, verifier := profilePage(t)
		before := p.Matched()
		p.DelayReply(createUser, late, allAttempts)
		first := b.submit(pg, profile)
		if first.status != http.StatusServiceUnavailable {
			t.Fatalf("sign-up with every reply late: %d, want 503:\n%s", first.status, first.body)
		}
		if p.Matched()-before != allAttempts {
			t.Fatalf("%d attempts reached Redis, want %d", p.Matched()-before, allAttempts)
		}
		p.ClearRules()
		done(t, b.submit(pg, profile), addr, verifier)
	})
}
