package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestConsentPage covers the consent step of the authorization request for
// an app the tenant has not pre-consented.
func TestConsentPage(t *testing.T) {
	env := startEnv(t)
	c := env.rp(env.a, false, oidc.ScopeOpenID, "email", "User.ReadWrite")
	c.conf.ClientID = env.a.spaID + "-3p"
	b := env.browser()
	open := func(extra ...oauth2.AuthCodeOption) page {
		opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier())}, extra...)
		return b.get(c.conf.AuthCodeURL("st", opts...))
	}
	p := b.signIn(open(), env.a.user, env.a.password)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Allow access?") ||
		!strings.Contains(p.body, "Read and change your profile") || !strings.Contains(p.body, "Third-party app A") {
		t.Fatalf("consent page: %d\n%s", p.status, p.body)
	}
	// Declining sends access_denied to the app.
	if q := redirected(t, b.submit(p, map[string]string{"decision": "cancel"})); q.Get("error") != "access_denied" {
		t.Fatalf("cancel: %v", q)
	}
	// prompt=none cannot show the page: consent_required.
	if q := redirected(t, open(oauth2.SetAuthURLParam("prompt", "none"))); q.Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %v", q)
	}
	// Accepting issues the code, and the grant is remembered.
	if q := redirected(t, b.consent(open())); q.Get("code") == "" {
		t.Fatalf("accept: %v", q)
	}
	if q := redirected(t, open(oauth2.SetAuthURLParam("prompt", "none"))); q.Get("code") == "" {
		t.Fatalf("after consent, prompt=none: %v", q)
	}
	uid, err := env.app.store.UserIDByMail(t.Context(), env.a.id, env.a.user)
	if err != nil {
		t.Fatal(err)
	}
	g, err := env.app.store.GetConsent(t.Context(), env.a.id, uid, c.conf.ClientID)
	if err != nil || strings.Join(g.Scopes, " ") != "openid email User.ReadWrite" {
		t.Fatalf("stored consent: %+v %v", g, err)
	}
	// A wider request asks again.
	c.conf.Scopes = append(c.conf.Scopes, "offline_access")
	p = open()
	if p.status != http.StatusOK || !strings.Contains(p.body, "Allow access?") {
		t.Fatalf("new scope did not ask again: %d", p.status)
	}
	// The consent page belongs to the browser holding the user's session.
	if q := env.browser().get(p.url.String()); q.status != http.StatusNotFound || strings.Contains(q.body, "Allow access?") {
		t.Fatalf("consent page in another browser: %d", q.status)
	}
}
