package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func (e *testEnv) authorizeURL(f tenantFixture, q url.Values) string {
	return f.issuer(e.base) + "/authorize?" + q.Encode()
}

func goodAuthorize(f tenantFixture) url.Values {
	v := oauth2.GenerateVerifier()
	return url.Values{
		"client_id": {f.webID}, "redirect_uri": {f.redirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(v)},
		"code_challenge_method": {"S256"},
	}
}

func TestAuthorizeRejectsUnregisteredRedirectURIs(t *testing.T) {
	env := startEnv(t)
	reg := env.a.redirect // https://app.example/a/callback
	for name, uri := range map[string]string{
		"trailing slash":  reg + "/",
		"extra query":     reg + "?x=1",
		"other case":      strings.Replace(reg, "callback", "Callback", 1),
		"percent-encoded": strings.Replace(reg, "callback", "%63allback", 1),
		"other port":      strings.Replace(reg, "app.example", "app.example:8443", 1),
		"userinfo":        "https://app.example@evil.example/a/callback",
		"other host":      "https://evil.example/a/callback",
		"http":            strings.Replace(reg, "https", "http", 1),
		"fragment":        reg + "#x",
		"empty":           "",
	} {
		t.Run(name, func(t *testing.T) {
			q := goodAuthorize(env.a)
			q.Set("redirect_uri", uri)
			p := env.browser().get(env.authorizeURL(env.a, q))
			if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
				t.Fatalf("status %d, Location %q; want 400 and no redirect", p.status, p.header.Get("Location"))
			}
		})
	}
}

func TestAuthorizeErrorsRedirectToTheApp(t *testing.T) {
	env := startEnv(t)
	for _, tt := range []struct {
		name, param, value, want string
	}{
		{"missing PKCE", "code_challenge", "", "invalid_request"},
		{"plain PKCE", "code_challenge_method", "plain", "invalid_request"},
		{"no PKCE method", "code_challenge_method", "", "invalid_request"},
		{"implicit", "response_type", "token", "unsupported_response_type"},
		{"hybrid", "response_type", "code id_token", "unsupported_response_type"},
		{"scope not allowed", "scope", "openid User.ReadWrite.All", "invalid_scope"},
		{"unknown scope", "scope", "openid admin", "invalid_scope"},
		{"no openid", "scope", "profile", "invalid_scope"},
		{"prompt none with login", "prompt", "none login", "invalid_request"},
		{"unknown prompt", "prompt", "bogus", "invalid_request"},
		{"request object", "request", "eyJhbGciOiJub25lIn0.e30.", "request_not_supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := goodAuthorize(env.a)
			if tt.value == "" {
				q.Del(tt.param)
			} else {
				q.Set(tt.param, tt.value)
			}
			got := redirected(t, env.browser().get(env.authorizeURL(env.a, q)))
			if got.Get("error") != tt.want || got.Get("state") != "st" {
				t.Fatalf("error=%q state=%q, want %q", got.Get("error"), got.Get("state"), tt.want)
			}
		})
	}
	t.Run("unknown client", func(t *testing.T) {
		q := goodAuthorize(env.a)
		q.Set("client_id", "nobody")
		p := env.browser().get(env.authorizeURL(env.a, q))
		if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
			t.Fatalf("status %d Location %q", p.status, p.header.Get("Location"))
		}
	})
	t.Run("prompt=none without session", func(t *testing.T) {
		q := goodAuthorize(env.a)
		q.Set("prompt", "none")
		got := redirected(t, env.browser().get(env.authorizeURL(env.a, q)))
		if got.Get("error") != "login_required" {
			t.Fatalf("error = %q, want login_required", got.Get("error"))
		}
	})
}

// tokenRequest posts a raw token request.
func (e *testEnv) tokenRequest(f tenantFixture, rawQuery string, body string, basic bool, contentType string) (int, map[string]any) {
	e.t.Helper()
	u := f.issuer(e.base) + "/oauth/token"
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if basic {
		req.SetBasicAuth(f.webID, f.webSecret)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func TestTokenEndpointRejects(t *testing.T) {
	env := startEnv(t)
	form := "application/x-www-form-urlencoded"
	c := env.rp(env.a, true, "openid")
	code, verifier, _ := c.login(env.browser(), env.a)
	codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {env.a.redirect}}

	t.Run("wrong verifier", func(t *testing.T) {
		v := codeForm
		v.Set("code_verifier", oauth2.GenerateVerifier())
		status, out := env.tokenRequest(env.a, "", v.Encode(), true, form)
		if status != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Fatalf("%d %v", status, out)
		}
		// The code was consumed by the failed attempt.
		if _, err := c.exchange(code, verifier); oauthError(err) != "invalid_grant" {
			t.Fatalf("code after a failed exchange: %v", err)
		}
	})
	for _, tt := range []struct {
		name, query, body string
		basic             bool
		ctype             string
		status            int
		want              string
	}{
		{"password grant", "", "grant_type=password&username=a&password=b", true, form, 400, "unsupported_grant_type"},
		{"client credentials", "", "grant_type=client_credentials", true, form, 400, "unsupported_grant_type"},
		{"implicit grant", "", "grant_type=implicit", true, form, 400, "unsupported_grant_type"},
		{"no grant type", "", "code=x", true, form, 400, "invalid_request"},
		{"secret in query", "client_id=" + env.a.webID + "&client_secret=" + env.a.webSecret, "grant_type=authorization_code&code=x", false, form, 400, "invalid_request"},
		{"wrong secret", "", "grant_type=authorization_code&code=x&code_verifier=" + oauth2.GenerateVerifier() + "&client_id=" + env.a.webID + "&client_secret=wrong", false, form, 0, ""},
		{"malformed body", "", "grant_type=%zz", true, form, 400, "invalid_request"},
		{"repeated parameter", "", "grant_type=refresh_token&grant_type=authorization_code", true, form, 400, "invalid_request"},
		{"JSON body", "", `{"grant_type":"authorization_code"}`, true, "application/json", 415, "invalid_request"},
		{"oversized body", "", "grant_type=authorization_code&code=" + strings.Repeat("a", 70<<10), true, form, 413, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, out := env.tokenRequest(env.a, tt.query, tt.body, tt.basic, tt.ctype)
			if tt.status != 0 && (status != tt.status || out["error"] != tt.want) {
				t.Fatalf("%d %v, want %d %s", status, out, tt.status, tt.want)
			}
			if out["access_token"] != nil || out["id_token"] != nil {
				t.Fatalf("tokens issued: %v", out)
			}
		})
	}
	t.Run("wrong client secret", func(t *testing.T) {
		code, verifier, _ := c.login(env.browser(), env.a)
		bad := *c
		bad.conf.ClientSecret = "wrong-" + env.a.webSecret
		if _, err := bad.exchange(code, verifier); oauthError(err) != "invalid_client" {
			t.Fatalf("wrong secret: %v, want invalid_client", err)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := env.client.Get(env.a.issuer(env.base) + "/oauth/token?grant_type=authorization_code")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET token: %d", resp.StatusCode)
		}
	})
}

func TestUnknownTenantAndPaths(t *testing.T) {
	env := startEnv(t)
	for _, p := range []string{
		"/no-such-tenant/v2.0/.well-known/openid-configuration",
		"/5f0c6c4e-8a3b-4c1d-9e2f-0123456789ab/v2.0/oauth/token",
		"/" + env.a.id + "/v2.0/device_authorization",
		"/" + env.a.id + "/v2.0/healthz",
		"/nothing",
	} {
		resp, err := env.client.Get(env.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestDiscoveryAdvertisesOnlyWhatWorks(t *testing.T) {
	env := startEnv(t)
	resp, err := env.client.Get(env.a.issuer(env.base) + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	json.NewDecoder(resp.Body).Decode(&d)
	want := map[string]string{
		"issuer":                           env.a.issuer(env.base),
		"response_types_supported":         "[code]",
		"grant_types_supported":            "[authorization_code refresh_token]",
		"code_challenge_methods_supported": "[S256]",
		"jwks_uri":                         env.a.issuer(env.base) + "/keys",
	}
	for k, v := range want {
		if got := strings.Trim(strings.ReplaceAll(toString(d[k]), ",", " "), " "); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	for _, k := range []string{"device_authorization_endpoint", "check_session_iframe"} {
		if _, ok := d[k]; ok {
			t.Errorf("discovery advertises %s", k)
		}
	}
	keys, err := env.client.Get(env.a.issuer(env.base) + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Body.Close()
	var set struct {
		Keys []struct{ Kty, Alg, Kid, Use string }
	}
	json.NewDecoder(keys.Body).Decode(&set)
	algs := map[string]bool{}
	for _, k := range set.Keys {
		algs[k.Alg] = k.Kid != "" && k.Use == "sig"
	}
	if !algs["RS256"] || !algs["ES256"] || !strings.Contains(keys.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("JWKS %+v, Cache-Control %q", set, keys.Header.Get("Cache-Control"))
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		s := "["
		for i, e := range x {
			if i > 0 {
				s += " "
			}
			s += toString(e)
		}
		return s + "]"
	}
	return ""
}
