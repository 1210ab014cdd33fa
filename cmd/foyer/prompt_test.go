package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestPromptAndMaxAge checks when the SSO session may stand in for a
// sign-in (OIDC Core 3.1.2.1).
func TestPromptAndMaxAge(t *testing.T) {
	env := startEnv(t)
	c := env.rp(env.a, true, oidc.ScopeOpenID)
	b := env.browser()
	c.login(b, env.a) // establishes the session

	open := func(opts ...oauth2.AuthCodeOption) page {
		opts = append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		return b.get(c.conf.AuthCodeURL("st", opts...))
	}
	showsForm := func(p page) bool {
		return p.status == http.StatusOK && (strings.Contains(p.body, `name="password"`) || strings.Contains(p.body, `value="accept"`))
	}
	for _, tt := range []struct {
		name string
		opts []oauth2.AuthCodeOption
		form bool
	}{
		{"session suffices", nil, false},
		{"prompt=none with a session", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none")}, false},
		{"prompt=login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, true},
		{"max_age=0", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0")}, true},
		{"max_age=3600", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "3600")}, false},
		{"prompt=consent asks even a pre-consented app", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "consent")}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := open(tt.opts...)
			if got := showsForm(p); got != tt.form {
				t.Fatalf("form shown = %v, want %v (status %d, Location %q)", got, tt.form, p.status, p.header.Get("Location"))
			}
			if !tt.form {
				if q := redirected(t, p); q.Get("code") == "" {
					t.Fatalf("no code: %v", q)
				}
			}
		})
	}
	t.Run("the session is per tenant", func(t *testing.T) {
		cb := env.rp(env.b, true, oidc.ScopeOpenID)
		p := b.get(cb.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
		if q := redirected(t, p); q.Get("error") != "login_required" {
			t.Fatalf("tenant B with only a tenant A session: %v", q)
		}
	})
	t.Run("id_token_hint for another user", func(t *testing.T) {
		// A's session, but the hint names a user of tenant B: zitadel refuses
		// the hint (foreign signature), so the request fails at the app.
		cb := env.rp(env.b, true, oidc.ScopeOpenID)
		code, verifier, _ := cb.login(env.browser(), env.b)
		tok, err := cb.exchange(code, verifier)
		if err != nil {
			t.Fatal(err)
		}
		idt, _ := tok.Extra("id_token").(string)
		p := open(oauth2.SetAuthURLParam("id_token_hint", idt), oauth2.SetAuthURLParam("prompt", "none"))
		if q := redirected(t, p); q.Get("error") == "" {
			t.Fatalf("foreign id_token_hint accepted: %v", q)
		}
	})
}
