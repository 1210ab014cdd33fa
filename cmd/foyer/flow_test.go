package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// client is a relying party: go-oidc for discovery and ID tokens,
// x/oauth2 for the code flow.
type client struct {
	t        testing.TB
	env      *testEnv
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (e *testEnv) rp(f tenantFixture, confidential bool, scopes ...string) *client {
	e.t.Helper()
	p, err := oidc.NewProvider(e.ctx(), f.issuer(e.base))
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader // no auto-detection retry: a failed try consumes the code
	conf := oauth2.Config{ClientID: f.spaID, Endpoint: ep, RedirectURL: f.redirect, Scopes: scopes}
	if confidential {
		conf.ClientID, conf.ClientSecret = f.webID, f.webSecret
	}
	return &client{t: e.t, env: e, provider: p, conf: conf, verifier: p.Verifier(&oidc.Config{ClientID: conf.ClientID})}
}

// login runs the browser through authorization and sign-in and returns the
// code and the PKCE verifier.
func (c *client) login(b *browser, f tenantFixture, extra ...oauth2.AuthCodeOption) (code, verifier, nonce string) {
	c.t.Helper()
	verifier, nonce = oauth2.GenerateVerifier(), suffix()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}, extra...)
	p := b.get(c.conf.AuthCodeURL("st-"+nonce, opts...))
	if p.status == http.StatusOK && strings.Contains(p.body, `name="password"`) {
		p = b.signIn(p, f.user, f.password)
	}
	p = b.consent(p)
	q := redirected(c.t, p)
	if q.Get("error") != "" {
		c.t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != "st-"+nonce {
		c.t.Fatalf("state = %q", q.Get("state"))
	}
	return q.Get("code"), verifier, nonce
}

func (c *client) exchange(code, verifier string) (*oauth2.Token, error) {
	return c.conf.Exchange(c.env.ctx(), code, oauth2.VerifierOption(verifier))
}

func (c *client) refresh(rt string) (*oauth2.Token, error) {
	return c.conf.TokenSource(c.env.ctx(), &oauth2.Token{RefreshToken: rt}).Token()
}

// userinfo calls the userinfo endpoint with an access token.
func (c *client) userinfo(at string) (*oidc.UserInfo, error) {
	return c.provider.UserInfo(c.env.ctx(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: at, TokenType: "Bearer"}))
}

// introspect asks, as the confidential app, whether a token is active.
func (c *client) introspect(f tenantFixture, token string) map[string]any {
	c.t.Helper()
	var meta struct {
		Introspection string `json:"introspection_endpoint"`
		Revocation    string `json:"revocation_endpoint"`
	}
	c.provider.Claims(&meta)
	req, _ := http.NewRequest(http.MethodPost, meta.Introspection, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.webID, f.webSecret)
	resp, err := c.env.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatalf("introspection %d: %v", resp.StatusCode, err)
	}
	return out
}

func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestCodeFlowEndToEnd(t *testing.T) {
	env := startEnv(t)
	for _, confidential := range []bool{true, false} {
		name := map[bool]string{true: "confidential", false: "public"}[confidential]
		t.Run(name, func(t *testing.T) {
			c := env.rp(env.a, confidential, oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess)
			b := env.browser()
			code, verifier, nonce := c.login(b, env.a)
			tok, err := c.exchange(code, verifier)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := c.verifier.Verify(env.ctx(), raw)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var claims struct {
				Nonce, Oid, Tid, Ver, Name, Email, PreferredUsername string `json:",omitempty"`
			}
			var m map[string]any
			idt.Claims(&m)
			if idt.Nonce != nonce || m["oid"] != idt.Subject || m["tid"] != env.a.id || m["ver"] != "2.0" ||
				m["email"] != env.a.user || m["name"] != "Alice A" || m["preferred_username"] != env.a.user {
				t.Fatalf("ID token claims: %v", m)
			}
			_ = claims
			// The access token is an at+jwt for the Graph-style API.
			if !strings.HasPrefix(tok.AccessToken, "ey") || tok.RefreshToken == "" {
				t.Fatalf("tokens: %+v", tok)
			}
			ui, err := c.userinfo(tok.AccessToken)
			if err != nil || ui.Subject != idt.Subject || ui.Email != env.a.user {
				t.Fatalf("userinfo: %+v, %v", ui, err)
			}

			// Refresh rotates; the old token replayed kills the family.
			tok2, err := c.refresh(tok.RefreshToken)
			if err != nil || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %+v, %v", tok2, err)
			}
			if _, err := c.userinfo(tok2.AccessToken); err != nil {
				t.Fatalf("userinfo with refreshed token: %v", err)
			}
			// Until the successor is used, the same refresh repeated (a
			// client that lost the answer) gets the same successor.
			again, err := c.refresh(tok.RefreshToken)
			if err != nil || again.RefreshToken != tok2.RefreshToken {
				t.Fatalf("repeated refresh: %+v, %v; want the same successor", again, err)
			}
			tok2, err = c.refresh(tok2.RefreshToken)
			if err != nil {
				t.Fatalf("refresh with the successor: %v", err)
			}
			if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("replayed refresh token: %v, want invalid_grant", err)
			}
			if _, err := c.refresh(tok2.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh token of a revoked family: %v, want invalid_grant", err)
			}
			if _, err := c.userinfo(tok2.AccessToken); err == nil {
				t.Fatal("access token of a revoked family still accepted at userinfo")
			}

			// SSO: a second authorization skips the form.
			code, verifier, _ = c.login(b, env.a)
			tok3, err := c.exchange(code, verifier)
			if err != nil {
				t.Fatalf("SSO exchange: %v", err)
			}
			// The exchange repeated with the code's verifier, before its
			// refresh token is used, gets the same refresh token; without
			// the verifier it is a replay.
			again, err = c.exchange(code, verifier)
			if err != nil || again.RefreshToken != tok3.RefreshToken {
				t.Fatalf("repeated exchange: %+v, %v; want the same refresh token", again, err)
			}
			if tok3, err = c.refresh(tok3.RefreshToken); err != nil {
				t.Fatalf("refresh after the exchange: %v", err)
			}
			// A replayed code fails and revokes what it issued.
			if _, err := c.exchange(code, verifier); oauthError(err) != "invalid_grant" {
				t.Fatalf("replayed code: %v, want invalid_grant", err)
			}
			if _, err := c.refresh(tok3.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh after code replay: %v, want invalid_grant", err)
			}
			if _, err := c.userinfo(tok3.AccessToken); err == nil {
				t.Fatal("access token issued by a replayed code still accepted")
			}
		})
	}
}

func TestIntrospectionAndRevocation(t *testing.T) {
	env := startEnv(t)
	c := env.rp(env.a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "User.Read")
	code, verifier, _ := c.login(env.browser(), env.a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	got := c.introspect(env.a, tok.AccessToken)
	if got["active"] != true || got["client_id"] != env.a.webID || got["scope"] != "openid offline_access User.Read" || got["tid"] != env.a.id {
		t.Fatalf("introspection: %v", got)
	}
	if got := c.introspect(env.a, "not-a-token"); got["active"] != false {
		t.Fatalf("garbage introspected as %v", got)
	}
	// Revoking the refresh token ends the grant: refresh and access token.
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	c.provider.Claims(&meta)
	revoke := func(token string, user, pass string) int {
		req, _ := http.NewRequest(http.MethodPost, meta.Revocation, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := env.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := revoke(tok.RefreshToken, env.b.webID, env.b.webSecret); s != http.StatusUnauthorized && s != http.StatusBadRequest {
		t.Fatalf("revocation by another tenant's client: %d", s)
	}
	if _, err := c.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("refresh after a refused revocation: %v", err)
	}
	tok2, _ := c.refresh(tok.RefreshToken) // replay: family gone
	_ = tok2
	code, verifier, _ = c.login(env.browser(), env.a)
	tok, err = c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if s := revoke(tok.RefreshToken, env.a.webID, env.a.webSecret); s != http.StatusOK {
		t.Fatalf("revocation: %d", s)
	}
	if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("refresh after revocation: %v", err)
	}
	if got := c.introspect(env.a, tok.AccessToken); got["active"] != false {
		t.Fatalf("access token of a revoked grant: %v", got)
	}
	// Revoking one access token.
	code, verifier, _ = c.login(env.browser(), env.a)
	tok, _ = c.exchange(code, verifier)
	if s := revoke(tok.AccessToken, env.a.webID, env.a.webSecret); s != http.StatusOK {
		t.Fatalf("access token revocation: %d", s)
	}
	if got := c.introspect(env.a, tok.AccessToken); got["active"] != false {
		t.Fatalf("revoked access token: %v", got)
	}
	if _, err := c.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("revoking an access token must not end its grant: %v", err)
	}
}

func TestTenantIsolation(t *testing.T) {
	env := startEnv(t)
	ca := env.rp(env.a, true, oidc.ScopeOpenID, "email")
	cb := env.rp(env.b, true, oidc.ScopeOpenID, "email")
	code, verifier, _ := ca.login(env.browser(), env.a)
	tok, err := ca.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := cb.provider.Verifier(&oidc.Config{ClientID: env.a.webID}).Verify(env.ctx(), raw); err == nil {
		t.Fatal("tenant B's keys verified tenant A's ID token")
	}
	if _, err := cb.userinfo(tok.AccessToken); err == nil {
		t.Fatal("tenant B's userinfo accepted tenant A's access token")
	}
	if got := cb.introspect(env.b, tok.AccessToken); got["active"] != false {
		t.Fatalf("tenant B introspected A's token as %v", got)
	}
	// A's user cannot sign in at B, and A's app is unknown at B.
	p := env.browser().get(strings.Replace(ca.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), env.a.id, env.b.id, 1))
	if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
		t.Fatalf("A's client at B: %d, Location %q", p.status, p.header.Get("Location"))
	}
	// The tenant's name and verified domain are aliases; the issuer stays the GUID.
	for _, alias := range []string{env.a.name, strings.SplitN(env.a.user, "@", 2)[1]} {
		p, err := oidc.NewProvider(env.ctx(), env.base+"/"+alias+"/v2.0")
		if err == nil {
			t.Fatalf("discovery under alias %q must report the GUID issuer (go-oidc then refuses the mismatch)", alias)
		}
		_ = p
		resp, err := env.client.Get(env.base + "/" + alias + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ Issuer string }
		json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if d.Issuer != env.a.issuer(env.base) {
			t.Fatalf("issuer under %q = %q", alias, d.Issuer)
		}
	}
}

func TestLogout(t *testing.T) {
	env := startEnv(t)
	c := env.rp(env.a, true, oidc.ScopeOpenID)
	b := env.browser()
	code, verifier, _ := c.login(b, env.a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	c.provider.Claims(&meta)
	idt, _ := tok.Extra("id_token").(string)
	bye := "https://app.example/a/bye"

	// Without id_token_hint: a confirmation page, then the registered URI.
	p := b.get(meta.EndSession + "?" + url.Values{"client_id": {env.a.webID}, "post_logout_redirect_uri": {bye}, "state": {"x1"}}.Encode())
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
		t.Fatalf("confirmation page: %d %s", p.status, p.body)
	}
	action, f := p.form(t)
	f.Set("decision", "cancel")
	if p2 := b.post(action, f); p2.status != http.StatusOK {
		t.Fatalf("cancel: %d", p2.status)
	}
	// The confirmation is single use: a new one is needed after cancel.
	p = b.get(meta.EndSession + "?" + url.Values{"client_id": {env.a.webID}, "post_logout_redirect_uri": {bye}, "state": {"x1"}}.Encode())
	action, f = p.form(t)
	f.Set("decision", "signout")
	p = b.post(action, f)
	if loc := p.header.Get("Location"); loc != bye+"?state=x1" {
		t.Fatalf("after confirmed logout: %d Location %q", p.status, loc)
	}
	// The session is gone: the next authorization shows the form.
	verifier = oauth2.GenerateVerifier()
	if p := b.get(c.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))); p.status != http.StatusOK || !strings.Contains(p.body, "Sign in") {
		t.Fatalf("after logout, authorize = %d", p.status)
	}

	// With a valid id_token_hint: straight to the registered URI.
	code, verifier, _ = c.login(b, env.a)
	tok, _ = c.exchange(code, verifier)
	idt, _ = tok.Extra("id_token").(string)
	p = b.get(meta.EndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {bye}}.Encode())
	if loc := p.header.Get("Location"); p.status != http.StatusFound || loc != bye {
		t.Fatalf("logout with hint: %d Location %q", p.status, loc)
	}
	// An unregistered post-logout URI is never redirected to.
	p = b.get(meta.EndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if strings.Contains(p.header.Get("Location"), "evil") {
		t.Fatalf("redirected to an unregistered post-logout URI: %q", p.header.Get("Location"))
	}
	_ = context.Background
}
