package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/provider/tenancy"
)

// reply is a raw HTTP answer.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON; body %q", ct, r.body)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatalf("body is not a JSON object: %q", r.body)
	}
	return out
}

// send does req with the test client (no redirects followed).
func (e *testEnv) send(req *http.Request) reply {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// postForm posts v to the endpoint rel of f's issuer, with Basic
// credentials when user is not empty.
func (e *testEnv) postForm(f tenantFixture, rel string, v url.Values, user, pass string) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.issuer(e.base)+rel, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return e.send(req)
}

// userinfoWith calls f's userinfo endpoint with the Authorization header
// auth (none when empty).
func (e *testEnv) userinfoWith(f tenantFixture, auth string) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.issuer(e.base)+"/userinfo", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.send(req)
}

// tokenClaims decodes a JWT's payload without verifying it.
func tokenClaims(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantNoStore(t testing.TB, name string, r reply) {
	t.Helper()
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Errorf("%s (%d): Cache-Control %q, Pragma %q; want no-store and no-cache",
			name, r.status, r.header.Get("Cache-Control"), r.header.Get("Pragma"))
	}
}

// TestTokenResponsesAreNeverCached: RFC 6749 §5.1 and §5.2, RFC 7662 §2.2.
func TestTokenResponsesAreNeverCached(t *testing.T) {
	env := startEnv(t)
	a := env.a
	c := env.rp(a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	code, verifier, _ := c.login(env.browser(), a)
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {a.redirect}}

	r := env.postForm(a, "/oauth/token", exchange, a.webID, a.webSecret)
	tok := r.json(t)
	if r.status != http.StatusOK || tok["access_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("code exchange: %d %s", r.status, r.body)
	}
	wantNoStore(t, "code exchange", r)

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
	r = env.postForm(a, "/oauth/token", refresh, a.webID, a.webSecret)
	next := r.json(t)
	if r.status != http.StatusOK || next["access_token"] == nil {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	wantNoStore(t, "refresh", r)
	// The successor is used, so the old token again is a replay, not the
	// client's retry of a lost answer (oidcop's RetryWindow).
	r = env.postForm(a, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next["refresh_token"].(string)}}, a.webID, a.webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("refresh with the successor: %d %s", r.status, r.body)
	}
	r = env.postForm(a, "/oauth/token", refresh, a.webID, a.webSecret)
	if r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("replayed refresh token: %d %s", r.status, r.body)
	}
	wantNoStore(t, "replayed refresh token", r)
	r = env.postForm(a, "/oauth/token", exchange, a.webID, a.webSecret)
	if r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("replayed code: %d %s", r.status, r.body)
	}
	wantNoStore(t, "replayed code", r)

	r = env.postForm(a, "/oauth/introspect", url.Values{"token": {tok["access_token"].(string)}}, a.webID, a.webSecret)
	if r.status != http.StatusOK || r.json(t)["active"] != false { // the replay revoked the grant
		t.Fatalf("introspection: %d %s", r.status, r.body)
	}
	wantNoStore(t, "introspection", r)
	r = env.postForm(a, "/oauth/introspect", url.Values{"token": {"x"}}, a.webID, "wrong")
	if r.status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_client" {
		t.Fatalf("introspection with a wrong secret: %d %s", r.status, r.body)
	}
	wantNoStore(t, "introspection error", r)

	// The guards' own errors too: a query string, a wrong method.
	req, _ := http.NewRequest(http.MethodPost, a.issuer(env.base)+"/oauth/token?code=x", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r = env.send(req)
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_request" {
		t.Fatalf("query string: %d %s", r.status, r.body)
	}
	wantNoStore(t, "query string", r)
	req, _ = http.NewRequest(http.MethodGet, a.issuer(env.base)+"/oauth/introspect", nil)
	r = env.send(req)
	if r.status != http.StatusMethodNotAllowed || r.json(t)["error"] != "invalid_request" {
		t.Fatalf("GET introspection: %d %s", r.status, r.body)
	}
	wantNoStore(t, "GET introspection", r)
}

var reChallengeError = regexp.MustCompile(`\berror="([^"]*)"`)

// TestUserinfoBearerErrors: RFC 6750 §3 and §3.1 at the userinfo endpoint,
// with real tokens of every kind that must not open it.
func TestUserinfoBearerErrors(t *testing.T) {
	env := startEnv(t)
	a := env.a
	c := env.rp(a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "User.Read")
	code, verifier, _ := c.login(env.browser(), a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if r := env.userinfoWith(a, "Bearer "+tok.AccessToken); r.status != http.StatusOK || r.json(t)["sub"] == nil {
		t.Fatalf("valid token: %d %s", r.status, r.body)
	}

	claims := tokenClaims(t, tok.AccessToken)
	grantID, _, _ := strings.Cut(claims["jti"].(string), ".")
	urls := tenancy.URLs{Base: env.base}
	mint := func(clock time.Time, scopes ...string) string {
		t.Helper()
		m := bearer.New(bearer.Config{Keys: env.app.keys, Revocations: env.app.store, Issuer: urls.Issuer,
			Audience: urls.GraphResource(), Clock: func() time.Time { return clock }})
		raw, _, err := m.Mint(context.Background(), bearer.Grant{TenantID: a.id, GrantID: grantID,
			UserID: claims["sub"].(string), ClientID: a.webID, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// Forged: the same signature over another subject.
	parts := strings.Split(tok.AccessToken, ".")
	forgedClaims := tokenClaims(t, tok.AccessToken)
	forgedClaims["sub"], forgedClaims["oid"] = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000001"
	payload, _ := json.Marshal(forgedClaims)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	// Another tenant's token.
	cb := env.rp(env.b, true, oidc.ScopeOpenID)
	code, verifier, _ = cb.login(env.browser(), env.b)
	tokB, err := cb.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	// A revoked token: revoked at the revocation endpoint.
	code, verifier, _ = c.login(env.browser(), a)
	revoked, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if r := env.postForm(a, "/revoke", url.Values{"token": {revoked.AccessToken}}, a.webID, a.webSecret); r.status != http.StatusOK {
		t.Fatalf("revocation: %d %s", r.status, r.body)
	}
	idToken, _ := tok.Extra("id_token").(string)

	for _, tc := range []struct{ name, auth string }{
		{"garbage", "Bearer not-a-token"},
		{"forged", "Bearer " + forged},
		{"expired", "Bearer " + mint(time.Now().Add(-3*time.Hour), oidc.ScopeOpenID)},
		{"revoked", "Bearer " + revoked.AccessToken},
		{"another tenant's", "Bearer " + tokB.AccessToken},
		{"ID token", "Bearer " + idToken},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.userinfoWith(a, tc.auth)
			ch := r.header.Get("WWW-Authenticate")
			if tc.name == "empty bearer" { // no credentials at all
				if r.status != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer") || strings.Contains(ch, "error=") {
					t.Fatalf("%d WWW-Authenticate %q; want 401 and a Bearer challenge without an error", r.status, ch)
				}
				return
			}
			if r.status != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
				t.Fatalf("%d WWW-Authenticate %q, body %s; want 401 invalid_token", r.status, ch, r.body)
			}
			if got := r.json(t); got["error"] != "invalid_token" || got["sub"] != nil {
				t.Fatalf("body %v", got)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		r := env.userinfoWith(a, "")
		ch := r.header.Get("WWW-Authenticate")
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer") || reChallengeError.MatchString(ch) {
			t.Fatalf("%d WWW-Authenticate %q; want 401 and a Bearer challenge without an error code", r.status, ch)
		}
	})
	t.Run("token in the POST body", func(t *testing.T) {
		if r := env.postForm(a, "/userinfo", url.Values{"access_token": {tok.AccessToken}}, "", ""); r.status != http.StatusOK {
			t.Fatalf("valid token: %d %s", r.status, r.body)
		}
		r := env.postForm(a, "/userinfo", url.Values{"access_token": {forged}}, "", "")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("forged token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("insufficient scope", func(t *testing.T) {
		// A refresh that narrows the scope to the API's: a real token
		// without openid.
		r := env.postForm(a, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"User.Read"}}, a.webID, a.webSecret)
		narrowed, _ := r.json(t)["access_token"].(string)
		if r.status != http.StatusOK || narrowed == "" {
			t.Fatalf("narrowing refresh: %d %s", r.status, r.body)
		}
		if scp := tokenClaims(t, narrowed)["scp"]; scp != "User.Read" {
			t.Fatalf("narrowed token scp = %v", scp)
		}
		r = env.userinfoWith(a, "Bearer "+narrowed)
		ch := r.header.Get("WWW-Authenticate")
		if r.status != http.StatusForbidden || !strings.Contains(ch, `error="insufficient_scope"`) || r.json(t)["error"] != "insufficient_scope" {
			t.Fatalf("%d WWW-Authenticate %q, body %s; want 403 insufficient_scope", r.status, ch, r.body)
		}
	})
}

// TestUnknownClientIsInvalidClient: RFC 6749 §5.2 at the token,
// introspection and revocation endpoints, for every grant type, with and
// without Basic authentication; a known client with a wrong secret gets
// the same answer.
func TestUnknownClientIsInvalidClient(t *testing.T) {
	env := startEnv(t)
	a := env.a
	c := env.rp(a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	code, verifier, _ := c.login(env.browser(), a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]url.Values{
		"token authorization_code": {"grant_type": {"authorization_code"}, "code": {"abc"}, "code_verifier": {verifier}, "redirect_uri": {a.redirect}},
		"token refresh_token":      {"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
		"token client_credentials": {"grant_type": {"client_credentials"}, "scope": {"User.Read"}},
		"token password":           {"grant_type": {"password"}, "username": {a.user}, "password": {a.password}},
		"token no grant_type":      {},
		"introspection":            {"token": {tok.AccessToken}},
		"revocation":               {"token": {tok.RefreshToken}},
	}
	paths := map[string]string{"token": "/oauth/token", "introspection": "/oauth/introspect", "revocation": "/revoke"}
	for name, body := range bodies {
		endpoint, _, _ := strings.Cut(name, " ")
		for _, auth := range []string{"basic", "client_id", "client_id and secret", "none", "another tenant's client", "wrong secret", "wrong secret in the body"} {
			t.Run(name+"/"+auth, func(t *testing.T) {
				v := url.Values{}
				for k, x := range body {
					v[k] = x
				}
				user, pass := "", ""
				switch auth {
				case "basic":
					user, pass = "nope", "whatever"
				case "client_id":
					v.Set("client_id", "nope")
				case "client_id and secret":
					v.Set("client_id", "nope")
					v.Set("client_secret", "whatever")
				case "another tenant's client":
					user, pass = env.b.webID, env.b.webSecret
				case "wrong secret":
					user, pass = a.webID, a.webSecret+"x"
				case "wrong secret in the body":
					v.Set("client_id", a.webID)
					v.Set("client_secret", a.webSecret+"x")
				}
				r := env.postForm(a, paths[endpoint], v, user, pass)
				out := r.json(t)
				if r.status != http.StatusUnauthorized || out["error"] != "invalid_client" {
					t.Fatalf("%d %s; want 401 invalid_client", r.status, r.body)
				}
				if strings.Contains(r.body, "storage") || strings.Contains(r.body, "not found") {
					t.Fatalf("internal text in %s", r.body)
				}
				ch := r.header.Get("WWW-Authenticate")
				if basic := user != ""; basic != strings.HasPrefix(ch, "Basic realm=") {
					t.Fatalf("WWW-Authenticate %q with Basic=%v", ch, basic)
				}
				wantNoStore(t, name, r)
			})
		}
	}
	// The grant was not touched by any of those: it still refreshes.
	if _, err := c.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("refresh after the refusals: %v", err)
	}
	// The client is authenticated before the code is looked at: a wrong
	// secret does not consume a real code (which would make the rightful
	// exchange a replay and revoke the grant).
	code, verifier, _ = c.login(env.browser(), a)
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {a.redirect}}
	if r := env.postForm(a, "/oauth/token", v, a.webID, "wrong"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret with a real code: %d %s", r.status, r.body)
	}
	if _, err := c.exchange(code, verifier); err != nil {
		t.Fatalf("the rightful exchange after a refused one: %v", err)
	}
}

// TestRequestObjectsRefused: OIDC Core 6.1 and 6.2 say which error an OP
// that supports neither gives, at the validated redirect URI.
func TestRequestObjectsRefused(t *testing.T) {
	env := startEnv(t)
	for param, want := range map[string]string{
		"request":     "request_not_supported",
		"request_uri": "request_uri_not_supported",
	} {
		value := "eyJhbGciOiJub25lIn0.e30."
		if param == "request_uri" {
			value = "https://app.example/request.jwt"
		}
		q := goodAuthorize(env.a)
		q.Set(param, value)
		got := redirected(t, env.browser().get(env.authorizeURL(env.a, q)))
		if got.Get("error") != want || got.Get("state") != "st" {
			t.Errorf("%s: error=%q state=%q, want %s", param, got.Get("error"), got.Get("state"), want)
		}
		// Not before the client and its redirect URI are validated.
		q.Set("redirect_uri", "https://evil.example/cb")
		if p := env.browser().get(env.authorizeURL(env.a, q)); p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
			t.Errorf("%s with an unregistered redirect URI: %d Location %q", param, p.status, p.header.Get("Location"))
		}
	}
}

// TestAuthorizationEndpointAnswersNoCORS: a browser navigates to the
// authorization and end-session endpoints; scripts have no business
// reading them, even from a registered origin.
func TestAuthorizationEndpointAnswersNoCORS(t *testing.T) {
	env := startEnv(t)
	const origin = "https://app.example" // the origin of registered redirect URIs
	do := func(method, rel, query string) reply {
		req, _ := http.NewRequest(method, env.a.issuer(env.base)+rel+query, nil)
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", http.MethodGet)
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		}
		return env.send(req)
	}
	// The token endpoint does answer CORS to that origin: the check below
	// can tell.
	if r := do(http.MethodOptions, "/oauth/token", ""); r.header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("token endpoint preflight: Access-Control-Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
	}
	authorize := "?" + goodAuthorize(env.a).Encode()
	for _, tc := range []struct{ method, rel, query string }{
		{http.MethodGet, "/authorize", authorize},
		{http.MethodOptions, "/authorize", authorize},
		{http.MethodOptions, "/authorize", ""},
		{http.MethodGet, "/end_session", "?client_id=" + env.a.webID},
		{http.MethodOptions, "/end_session", ""},
	} {
		r := do(tc.method, tc.rel, tc.query)
		for k := range r.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s %s%s: %s: %q", tc.method, tc.rel, tc.query, k, r.header.Get(k))
			}
		}
	}
}

var reRequestID = regexp.MustCompile(`<dt>Request ID</dt><dd><code>([^<]+)</code></dd>`)

// wantErrorPage checks p is the styled error page with its request ID.
func wantErrorPage(t testing.TB, p page, status int) {
	t.Helper()
	if p.status != status || p.header.Get("Location") != "" {
		t.Fatalf("%d Location %q, want %d and no redirect:\n%s", p.status, p.header.Get("Location"), status, p.body)
	}
	if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q, body %s", ct, p.body)
	}
	if !strings.Contains(p.body, `<link rel="stylesheet" href="`) || !strings.Contains(p.body, `<main class="card">`) {
		t.Fatalf("not the templates' page:\n%s", p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q: the page's stylesheet must load, the page must not be framed", csp)
	}
	m := reRequestID.FindStringSubmatch(p.body)
	if m == nil || m[1] != p.header.Get("X-Request-Id") {
		t.Fatalf("request ID on the page %v, X-Request-Id %q", m, p.header.Get("X-Request-Id"))
	}
	for _, leak := range []string{"ErrorType=", "storage:", `"error"`} {
		if strings.Contains(p.body, leak) {
			t.Fatalf("internal text %q on the page:\n%s", leak, p.body)
		}
	}
}

// TestBrowserErrorsAreTheErrorPage: every error a browser can reach at the
// protocol endpoints, where nothing may be redirected, is the styled page.
func TestBrowserErrorsAreTheErrorPage(t *testing.T) {
	env := startEnv(t)
	a := env.a
	c := env.rp(a, true, oidc.ScopeOpenID)
	b := env.browser()
	code, verifier, _ := c.login(b, a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	issuer := a.issuer(env.base)
	bye := "https://app.example/a/bye"
	with := func(q url.Values, k, v string) url.Values {
		out := url.Values{}
		for key, x := range q {
			out[key] = x
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}
	good := goodAuthorize(a)
	for _, tc := range []struct {
		name, url string
		status    int
		text      string
	}{
		{"redirect URI mismatch", env.authorizeURL(a, with(good, "redirect_uri", "https://evil.example/cb")), 400, "redirect URI is not registered"},
		{"unknown client", env.authorizeURL(a, with(good, "client_id", "nope")), 400, "not registered"},
		{"missing client_id", env.authorizeURL(a, with(good, "client_id", "")), 400, "not registered"},
		{"repeated parameter", env.authorizeURL(a, good) + "&state=again", 400, "repeats the parameter state"},
		{"malformed query", issuer + "/authorize?client_id=%zz", 400, "malformed"},
		{"unknown authorization request at the callback", issuer + "/authorize/callback?id=nope", 400, "expired or was already used"},
		{"logout: unknown client", issuer + "/end_session?" + url.Values{"client_id": {"nope"}, "post_logout_redirect_uri": {bye}}.Encode(), 400, "not registered"},
		{"logout: unregistered post-logout URI", issuer + "/end_session?" + url.Values{"client_id": {a.webID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode(), 400, "sign-out request is not valid"},
		{"logout: forged id_token_hint", issuer + "/end_session?" + url.Values{"id_token_hint": {idToken[:len(idToken)-4] + "AAAA"}, "post_logout_redirect_uri": {bye}}.Encode(), 400, "sign-out request is not valid"},
		{"logout: client_id other than the hint's", issuer + "/end_session?" + url.Values{"id_token_hint": {idToken}, "client_id": {a.spaID}}.Encode(), 400, "sign-out request is not valid"},
		{"logout: repeated parameter", issuer + "/end_session?client_id=" + a.webID + "&client_id=" + a.spaID, 400, "repeats the parameter client_id"},
		{"logout confirmation: expired", issuer + "/logout?id=", 404, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := env.browser().get(tc.url)
			wantErrorPage(t, p, tc.status)
			if !strings.Contains(p.body, tc.text) {
				t.Fatalf("page lacks %q:\n%s", tc.text, p.body)
			}
		})
	}
	t.Run("unknown tenant", func(t *testing.T) {
		for _, rel := range []string{"/authorize?" + good.Encode(), "/end_session?client_id=" + a.webID, "/login?id=x"} {
			p := env.browser().get(env.base + "/no-such-tenant/v2.0" + rel)
			wantErrorPage(t, p, http.StatusNotFound)
		}
		// Machines still get JSON.
		r := env.postForm(tenantFixture{id: "no-such-tenant"}, "/oauth/token", url.Values{}, "", "")
		if r.status != http.StatusNotFound || r.json(t)["error"] == nil {
			t.Fatalf("token endpoint of an unknown tenant: %d %s", r.status, r.body)
		}
	})
	t.Run("method not allowed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, env.authorizeURL(a, good), nil)
		p := env.browser().do(req)
		wantErrorPage(t, p, http.StatusMethodNotAllowed)
		if p.header.Get("Allow") != "GET, POST" {
			t.Fatalf("Allow %q", p.header.Get("Allow"))
		}
	})
	t.Run("logout confirmation: forged form", func(t *testing.T) {
		p := b.get(issuer + "/end_session?" + url.Values{"client_id": {a.webID}, "post_logout_redirect_uri": {bye}}.Encode())
		action, f := p.form(t)
		f.Set("id", "another")
		f.Set("decision", "signout")
		wantErrorPage(t, b.post(action, f), http.StatusForbidden)
	})
	// The valid requests still work: no page where a redirect belongs.
	if p := env.browser().get(env.authorizeURL(a, good)); p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("good authorization request: %d", p.status)
	}
}

// TestBrowserErrorPageWhenRedisIsDown: the 503 a browser gets at the
// authorization endpoint is the error page, with Retry-After.
func TestBrowserErrorPageWhenRedisIsDown(t *testing.T) {
	env := startEnv(t, func(c *Config) { c.RedisURL = "" }) // embedded, so the test can stop it
	u := env.authorizeURL(env.a, goodAuthorize(env.a))
	if p := env.browser().get(u); p.status != http.StatusOK { // warms the tenant cache
		t.Fatalf("authorize: %d", p.status)
	}
	env.app.stopRedis()
	p := env.browser().get(u) // the tenant comes from the cache, the app from Redis
	wantErrorPage(t, p, http.StatusServiceUnavailable)
	if p.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	time.Sleep(1100 * time.Millisecond) // past the tenant cache: the tenant lookup fails
	p = env.browser().get(u)
	wantErrorPage(t, p, http.StatusServiceUnavailable)
	if p.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

// TestAdvertisedClientAuthMethodsWork: every client authentication method
// discovery lists for the token, introspection and revocation endpoints
// works there.
func TestAdvertisedClientAuthMethodsWork(t *testing.T) {
	env := startEnv(t)
	a := env.a
	var meta map[string]any
	if err := json.Unmarshal([]byte(env.send(mustGet(a.issuer(env.base)+"/.well-known/openid-configuration")).body), &meta); err != nil {
		t.Fatal(err)
	}
	c := env.rp(a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	public := env.rp(a, false, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	for _, ep := range []struct{ key, rel string }{
		{"token_endpoint_auth_methods_supported", "/oauth/token"},
		{"introspection_endpoint_auth_methods_supported", "/oauth/introspect"},
		{"revocation_endpoint_auth_methods_supported", "/revoke"},
	} {
		methods, _ := meta[ep.key].([]any)
		if len(methods) == 0 {
			t.Fatalf("%s missing", ep.key)
		}
		for _, m := range methods {
			t.Run(ep.rel+"/"+m.(string), func(t *testing.T) {
				code, verifier, _ := c.login(env.browser(), a)
				tok, err := c.exchange(code, verifier)
				if err != nil {
					t.Fatal(err)
				}
				v := url.Values{"token": {tok.AccessToken}}
				if ep.rel == "/oauth/token" {
					v = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
				}
				user, pass := "", ""
				switch m {
				case "client_secret_basic":
					user, pass = a.webID, a.webSecret
				case "client_secret_post":
					v.Set("client_id", a.webID)
					v.Set("client_secret", a.webSecret)
				case "none":
					v.Set("client_id", a.spaID) // the public app, with a token of its own
					code, verifier, _ := public.login(env.browser(), a)
					pub, err := public.exchange(code, verifier)
					if err != nil {
						t.Fatal(err)
					}
					v.Set("token", pub.AccessToken)
					if ep.rel == "/oauth/token" {
						v.Del("token")
						v.Set("refresh_token", pub.RefreshToken)
					}
				default:
					t.Fatalf("unknown method %s advertised", m)
				}
				r := env.postForm(a, ep.rel, v, user, pass)
				if r.status != http.StatusOK {
					t.Fatalf("%d %s", r.status, r.body)
				}
				if ep.rel == "/oauth/introspect" && r.json(t)["active"] != true {
					t.Fatalf("introspection: %s", r.body)
				}
			})
		}
	}
}

func mustGet(u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		panic(err)
	}
	return req
}
