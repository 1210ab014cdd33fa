package main

// Malicious lockout (issue 9): failures from anywhere lock an address for
// every browser but one that signed in to it before (its device cookie);
// the per-address count still stops a spray without one.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// deviceCookie returns the browser's device cookie for the issuer's host.
func deviceCookie(t *testing.T, b *browser, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base)
	var found *http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "__Host-foyer-device-") {
			if found != nil {
				t.Fatalf("two device cookies: %s and %s", found.Name, c.Name)
			}
			found = c
		}
	}
	if found == nil {
		t.Fatal("no __Host-foyer-device- cookie after signing in")
	}
	return found
}

// longLocks makes the first sign-in lock last a minute, longer than a
// test's requests take on a loaded machine (on a real Redis locks run out in
// real time).
func longLocks(c *Config) { c.signInFirstLock = time.Minute }

func TestMaliciousLockout(t *testing.T) {
	env := startEnv(t, longLocks)
	c := env.rp(env.a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	// Alice signs in on her laptop, which keeps a device cookie.
	laptop := env.browserFrom(t, randomLoopback())
	code, verifier, _ := c.login(laptop, env.a)
	if _, err := c.exchange(code, verifier); err != nil {
		t.Fatal(err)
	}
	mine := deviceCookie(t, laptop, env.base)

	t.Run("cookie attributes", func(t *testing.T) {
		b := env.browser()
		p := env.loginPage(b, env.a)
		action, f := p.form(t)
		f.Set("email", env.a.user)
		f.Set("password", env.a.password)
		req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(action)
		for _, ck := range b.client.Jar.Cookies(u) {
			req.AddCookie(ck)
		}
		resp, err := env.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var dev *http.Cookie
		for _, ck := range resp.Cookies() {
			if strings.HasPrefix(ck.Name, "__Host-foyer-device-") {
				dev = ck
			}
		}
		if dev == nil || !dev.Secure || !dev.HttpOnly || dev.SameSite != http.SameSiteStrictMode || dev.Path != "/" ||
			dev.Domain != "" || dev.MaxAge <= 0 || dev.Name != mine.Name || dev.Value == mine.Value ||
			strings.Contains(dev.Value, "alice") || strings.Contains(dev.Name, "alice") {
			t.Fatalf("device cookie %+v (the laptop's is %s)", dev, mine.Name)
		}
	})

	// An attacker sprays wrong passwords for her address from several
	// addresses; the address locks.
	var last page
	for range 6 {
		attacker := env.browserFrom(t, randomLoopback())
		last, _ = reauthIn(t, env, c, attacker, "wrong password "+suffix())
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("6th failure of the spray: %d Retry-After %q, want 429", last.status, last.header.Get("Retry-After"))
	}
	// Without a device cookie even the right password is refused.
	if p, _ := reauthIn(t, env, c, env.browserFrom(t, randomLoopback()), env.a.password); p.status != http.StatusTooManyRequests {
		t.Fatalf("right password without a device cookie during the lock: %d", p.status)
	}

	// Alice's laptop is not locked out: the original authorization
	// request completes and the code is hers.
	p, verifier := reauthIn(t, env, c, laptop, env.a.password)
	q := redirected(t, p)
	tok, err := c.exchange(q.Get("code"), verifier)
	if err != nil {
		t.Fatalf("exchange after signing in through the lock: %v", err)
	}
	idt, err := c.verifier.Verify(env.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	if uid, _ := env.app.store.UserIDByMail(t.Context(), env.a.id, env.a.user); idt.Subject != uid {
		t.Fatalf("signed in as %s, want %s", idt.Subject, uid)
	}
	// Still locked for everyone else: her success did not lift it.
	if p, _ := reauthIn(t, env, c, env.browserFrom(t, randomLoopback()), env.a.password); p.status != http.StatusTooManyRequests {
		t.Fatalf("right password without a device cookie after the owner's success: %d", p.status)
	}

	t.Run("forged or borrowed device cookies give nothing", func(t *testing.T) {
		// Alice of tenant B signs in: her browser's device cookie is
		// genuine, for another address.
		other := env.browserFrom(t, randomLoopback())
		cb := env.rp(env.b, true, oidc.ScopeOpenID)
		cb.login(other, env.b)
		theirs := deviceCookie(t, other, env.base)
		u, _ := url.Parse(env.base)
		for name, value := range map[string]string{
			"another user's token": theirs.Value,
			"tampered token":       "A" + mine.Value[1:],
			"truncated token":      mine.Value[:len(mine.Value)-3],
			"not a token":          "trust-me",
		} {
			b := env.browserFrom(t, randomLoopback())
			b.client.Jar.SetCookies(u, []*http.Cookie{{Name: mine.Name, Value: value, Path: "/", Secure: true, HttpOnly: true}})
			if p, _ := reauthIn(t, env, c, b, env.a.password); p.status != http.StatusTooManyRequests {
				t.Errorf("%s: %d, want 429", name, p.status)
			}
		}
	})

	// The lock is in the tenant's audit log.
	if n := env.countAudit(t, env.a.id, "signInLocked", "tooManyAttempts"); n == 0 {
		t.Fatalf("no signInLocked event in the audit log")
	}
}

// reauthIn is the sign-in with prompt=login of TestMaliciousLockout for any
// browser.
func reauthIn(t *testing.T, env *testEnv, c *client, b *browser, pw string) (page, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	p := b.get(c.conf.AuthCodeURL("st-lockout", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
	if p.status != http.StatusOK {
		t.Fatalf("sign-in page: %d %s", p.status, p.body)
	}
	return b.signIn(p, env.a.user, pw), verifier
}
