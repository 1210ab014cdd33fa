package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// reCode finds the code on its own line of the mail's text (URLs in other
// mails may hold 8-digit groups).
var reCode = regexp.MustCompile(`(?m)^\s*(\d{8})\s*$`)

// lastCode returns the code of the newest message to addr.
func (e *testEnv) lastCode(addr string) string {
	e.t.Helper()
	for _, m := range e.app.mailbox.Messages() {
		if m.To == addr {
			if c := reCode.FindStringSubmatch(m.Text); c != nil {
				return c[1]
			}
			return ""
		}
	}
	return ""
}

// submit fills the page's form with values and posts it.
func (b *browser) submit(p page, values map[string]string) page {
	b.t.Helper()
	action, f := p.form(b.t)
	for k, v := range values {
		f.Set(k, v)
	}
	return b.post(action, f)
}

func TestSignUpAppFlow(t *testing.T) {
	env := startEnv(t)
	c := env.rp(env.a, true, oidc.ScopeOpenID, "email", "profile")
	b := env.browser()
	verifier := oauth2.GenerateVerifier()
	p := b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "create")))
	if p.status != http.StatusOK || !strings.Contains(p.body, "Create your account") {
		t.Fatalf("prompt=create: %d %s", p.status, p.body)
	}
	addr := "New.Customer+" + suffix() + "@Example.COM"
	p = b.submit(p, map[string]string{"email": addr})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
		t.Fatalf("after email: %d %s", p.status, p.body)
	}
	norm := strings.ToLower(addr)
	code := env.lastCode(norm)
	if code == "" {
		t.Fatalf("no code mailed to %s", norm)
	}
	p = b.submit(p, map[string]string{"code": code})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Finish creating your account") {
		t.Fatalf("after code: %d %s", p.status, p.body)
	}
	p = b.submit(p, map[string]string{"displayName": "New Customer", "givenName": "New", "surname": "Customer",
		"password": "a long and unusual passphrase " + suffix()})
	q := redirected(t, p)
	tok, err := c.exchange(q.Get("code"), verifier)
	if err != nil {
		t.Fatalf("exchange after sign-up: %v", err)
	}
	idt, err := c.verifier.Verify(env.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	idt.Claims(&claims)
	if claims["email"] != norm || claims["tid"] != env.a.id || claims["name"] != "New Customer" {
		t.Fatalf("claims: %v", claims)
	}
	u, err := env.app.store.GetUser(t.Context(), env.a.id, idt.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if u.CreationType != "SelfServiceSignUp" || u.UserType != "Member" || len(u.Identities) != 1 || u.Identities[0].SignInType != "emailAddress" {
		t.Fatalf("user: %+v", u)
	}
}
