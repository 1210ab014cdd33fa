package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// DESIGN.md section 8: apps written for Entra with Microsoft's MSAL move to
// Foyer by changing their authority. These tests speak MSAL's dialect over
// real HTTP; msal_clients_test.go runs MSAL itself.

// msalTenant is a tenant whose apps are registered as an MSAL app would be:
// a confidential web app and a SPA whose redirect and post-logout URI is a
// loopback HTTP origin (spaOrigin, whose listener the caller serves).
type msalTenant struct {
	env        *testEnv
	name, id   string
	webID      string
	webSecret  string
	webRedir   string
	webBye     string
	spaID      string
	spaOrigin  string
	spaLn      net.Listener
	user, pass string
}

// startMSALEnv starts the test env with one more tenant, "m", for MSAL.
func startMSALEnv(t *testing.T) *msalTenant {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sfx := suffix()
	m := &msalTenant{
		name: "m-" + sfx, webID: "m-web-" + sfx, webSecret: "m-s3cret-" + sfx + "-0123456789abcdefghijklmnopqrstuv",
		webRedir: "https://app.example/m/callback", webBye: "https://app.example/m/bye",
		spaID: "m-spa-" + sfx, spaOrigin: fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port), spaLn: ln,
		user: "megan@m" + sfx + ".example", pass: "msal passphrase " + sfx,
	}
	t.Setenv("SECRET_M", m.webSecret)
	t.Setenv("PASSWORD_M", m.pass)
	m.env = startEnvWith(t, fmt.Sprintf(`
  - name: %s
    displayName: MSAL apps
    kind: external
    domains: [%s]
    apps:
      - clientId: %s
        displayName: MSAL web app
        redirectUris: [%s]
        postLogoutRedirectUris: [%s]
        scopes: [openid, profile, email, offline_access, User.Read, User.ReadWrite]
        preConsented: true
        clientSecretEnv: SECRET_M
      - clientId: %s
        displayName: MSAL single-page app
        redirectUris: [%s/]
        postLogoutRedirectUris: [%[7]s/]
        scopes: [openid, profile, email, offline_access, User.Read]
        preConsented: true
    users:
      - userPrincipalName: %s
        mail: %[8]s
        displayName: Megan Bowen
        givenName: Megan
        surname: Bowen
        passwordEnv: PASSWORD_M
`, m.name, strings.SplitN(m.user, "@", 2)[1], m.webID, m.webRedir, m.webBye, m.spaID, m.spaOrigin, m.user))
	id, err := m.env.app.store.TenantIDByName(t.Context(), m.name)
	if err != nil {
		t.Fatal(err)
	}
	m.id = id
	return m
}

// tokenURL is the tenant's token endpoint, as discovery names it.
func (e *testEnv) tokenURL(f tenantFixture) string { return f.issuer(e.base) + "/oauth/token" }

// postToken sends a token request with the client's Basic credentials and
// the given raw query string, and returns the status, the headers and the
// decoded JSON body.
func (e *testEnv) postToken(t *testing.T, f tenantFixture, query string, form url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	u := e.tokenURL(f)
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(f.webID), url.QueryEscape(f.webSecret))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("token endpoint answered %d with non-JSON %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, body
}

// codeForm signs the web app's user in and returns the form of a code
// exchange (without client_info).
func (e *testEnv) codeForm(t *testing.T, f tenantFixture, scopes ...string) url.Values {
	t.Helper()
	c := e.rp(f, true, scopes...)
	code, verifier, _ := c.login(e.browser(), f)
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {f.redirect}}
}

// jwtClaims decodes a JWT's payload without verifying it (the tests verify
// tokens by using them).
func jwtClaims(t *testing.T, raw string) map[string]any {
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

// getMe calls GET /v1.0/me with an access token and returns the status and
// the user's id.
func (e *testEnv) getMe(t *testing.T, at string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/v1.0/me", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&me)
	return resp.StatusCode, me.ID
}

const msalRequestID = "9a1f3c4e-2b7d-4e8f-a6c5-0d1e2f3a4b5c"

// msalQuery is what msal-node 7 and msal-browser 5 put in the token URL,
// with every telemetry parameter msal-common knows.
var msalQuery = url.Values{
	"client-request-id":          {msalRequestID},
	"x-client-SKU":               {"msal.js.node"},
	"x-client-VER":               {"7.2.1"},
	"x-client-OS":                {"linux"},
	"x-client-CPU":               {"x64"},
	"x-client-xtra-sku":          {"msal.js.browser|5.29.0"},
	"x-client-current-telemetry": {"5|871,0,,,|,"},
	"x-client-last-telemetry":    {"5|0|||0,0"},
	"x-ms-lib-capability":        {"retry-after, h429"},
	"x-app-name":                 {"contoso-shop"},
	"x-app-ver":                  {"1.0.0"},
}.Encode()

func TestMSALTokenEndpointTelemetryQuery(t *testing.T) {
	env := startEnv(t)
	f := env.a

	// OAuth parameters and secrets in the query stay refused, whatever
	// else is there; the code in the body is not spent by a refusal.
	form := env.codeForm(t, f, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "User.Read")
	for name, q := range map[string]string{
		"code":                         "code=" + url.QueryEscape(form.Get("code")),
		"client_secret":                "client_secret=" + url.QueryEscape(f.webSecret),
		"client_id":                    "client_id=" + f.webID,
		"grant_type":                   "grant_type=authorization_code",
		"code_verifier":                "code_verifier=" + form.Get("code_verifier"),
		"refresh_token":                "refresh_token=x",
		"an unknown parameter":         "foo=1",
		"a secret beside telemetry":    msalQuery + "&client_secret=x",
		"telemetry in another case":    "Client_Secret=x",
		"a repeated client-request-id": "client-request-id=" + msalRequestID + "&client-request-id=" + msalRequestID,
		"a too long value":             "x-app-name=" + strings.Repeat("a", 2000),
		"a malformed query":            "client-request-id=%zz",
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			status, _, body := env.postToken(t, f, q, form)
			if status != http.StatusBadRequest || body["error"] != "invalid_request" {
				t.Fatalf("%s: %d %v, want 400 invalid_request", q, status, body)
			}
		})
	}

	// MSAL's own query: accepted, and the correlation ID comes back.
	form.Set("client_info", "1")
	status, h, body := env.postToken(t, f, msalQuery, form)
	if status != http.StatusOK {
		t.Fatalf("token request with MSAL's query: %d %v", status, body)
	}
	if got := h.Get("client-request-id"); got != msalRequestID {
		t.Fatalf("client-request-id = %q, want %q echoed", got, msalRequestID)
	}
	if status, _ := env.getMe(t, body["access_token"].(string)); status != http.StatusOK {
		t.Fatalf("the access token: GET /v1.0/me = %d", status)
	}

	// Refresh with the query too; errors echo the ID as well.
	rt := body["refresh_token"].(string)
	status, h, body = env.postToken(t, f, "client-request-id="+msalRequestID, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if status != http.StatusOK || h.Get("client-request-id") != msalRequestID {
		t.Fatalf("refresh with client-request-id: %d %v %q", status, body, h.Get("client-request-id"))
	}
	status, h, body = env.postToken(t, f, "client-request-id="+msalRequestID, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" || h.Get("client-request-id") != msalRequestID {
		t.Fatalf("bad refresh token: %d %v, client-request-id %q", status, body, h.Get("client-request-id"))
	}
	// Only a GUID is echoed.
	_, h, _ = env.postToken(t, f, "client-request-id=%0d%0aX-Evil:%201", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}})
	if v, ok := h["Client-Request-Id"]; ok || h.Get("X-Evil") != "" {
		t.Fatalf("echoed a non-GUID client-request-id: %q", v)
	}
}

func TestMSALClientInfo(t *testing.T) {
	env := startEnv(t)
	f := env.a
	form := env.codeForm(t, f, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "User.Read")
	form.Set("client_info", "1")
	status, _, body := env.postToken(t, f, "", form)
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	oid := jwtClaims(t, body["id_token"].(string))["oid"]
	want := map[string]any{"uid": oid, "utid": f.id}
	check := func(what string, body map[string]any) {
		t.Helper()
		raw, _ := body["client_info"].(string)
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil {
			t.Fatalf("%s: client_info %q is not base64url: %v", what, raw, err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil || fmt.Sprint(got) != fmt.Sprint(want) || oid == nil {
			t.Fatalf("%s: client_info = %s, want %v", what, b, want)
		}
	}
	check("code exchange", body)

	// Refresh: with client_info=1 it is there, without it is not.
	rt := body["refresh_token"].(string)
	status, _, body = env.postToken(t, f, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_info": {"1"}})
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	check("refresh", body)
	status, _, body = env.postToken(t, f, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}})
	if _, ok := body["client_info"]; status != http.StatusOK || ok {
		t.Fatalf("refresh without client_info=1: %d %v", status, body)
	}
	// An error carries none.
	status, _, body = env.postToken(t, f, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_info": {"1"}})
	if _, ok := body["client_info"]; status != http.StatusBadRequest || ok {
		t.Fatalf("replayed refresh token with client_info=1: %d %v", status, body)
	}
}

// fragmentOf returns the parameters in the fragment of a redirect to the
// app, and fails if the query carries any.
func fragmentOf(t *testing.T, p page) url.Values {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect to the app, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil || loc.Host != "app.example" {
		t.Fatalf("redirect to %q, want the app", p.header.Get("Location"))
	}
	if loc.RawQuery != "" {
		t.Fatalf("response_mode=fragment, but the query carries %q", loc.RawQuery)
	}
	// As a browser's location.hash: the fragment as sent, decoded once.
	v, err := url.ParseQuery(loc.EscapedFragment())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMSALResponseModeFragment(t *testing.T) {
	env := startEnv(t)
	f := env.a
	c := env.rp(f, false, oidc.ScopeOpenID, "User.Read")

	var meta struct {
		Modes []string `json:"response_modes_supported"`
	}
	c.provider.Claims(&meta)
	if strings.Join(meta.Modes, " ") != "query fragment form_post" {
		t.Fatalf("response_modes_supported = %v", meta.Modes)
	}

	// Success: the code and state in the fragment, redeemable. The state
	// is as MSAL's (base64 with padding) and worse: encoded once, as in
	// the query.
	const state = "eyJpZCI6IjEifQ== /+&%é"
	b := env.browser()
	verifier := oauth2.GenerateVerifier()
	p := b.get(c.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("response_mode", "fragment")))
	p = b.consent(b.signIn(p, f.user, f.password))
	q := fragmentOf(t, p)
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("fragment = %v", q)
	}
	if _, err := c.exchange(q.Get("code"), verifier); err != nil {
		t.Fatalf("the code from the fragment: %v", err)
	}

	// With the SSO session, straight back, still in the fragment.
	verifier = oauth2.GenerateVerifier()
	p = b.get(c.conf.AuthCodeURL("st-sso", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("response_mode", "fragment")))
	if q := fragmentOf(t, p); q.Get("code") == "" || q.Get("state") != "st-sso" {
		t.Fatalf("SSO redirect fragment = %v", q)
	}

	// Errors go back in the fragment too: from the guard, and from an
	// interaction (prompt=none without a session).
	for name, opt := range map[string][]oauth2.AuthCodeOption{
		"unknown prompt": {oauth2.SetAuthURLParam("prompt", "bogus")},
		"unknown scope":  {oauth2.SetAuthURLParam("scope", "openid Mail.Read")},
		"prompt=none":    {oauth2.SetAuthURLParam("prompt", "none")},
	} {
		t.Run(name, func(t *testing.T) {
			opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("response_mode", "fragment")}, opt...)
			p := env.browser().get(c.conf.AuthCodeURL(state, opts...))
			q := fragmentOf(t, p)
			if q.Get("error") == "" || q.Get("state") != state || q.Get("code") != "" {
				t.Fatalf("error fragment = %v", q)
			}
		})
	}
	// An unknown mode is refused, in the default mode (query).
	p = env.browser().get(c.conf.AuthCodeURL("st-x", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("response_mode", "web_message")))
	if q := redirected(t, p); q.Get("error") != "invalid_request" {
		t.Fatalf("response_mode=web_message: %v", q)
	}
}

// fixture is the tenant as the shared helpers (rp, login) take it, with the
// web app.
func (m *msalTenant) fixture() tenantFixture {
	return tenantFixture{name: m.name, id: m.id, webID: m.webID, webSecret: m.webSecret, redirect: m.webRedir, user: m.user, password: m.pass}
}

// apiScopes returns the scopes of an access token's scp other than
// OpenID Connect's, and fails when any is not a bare name.
func apiScopes(t *testing.T, at string) string {
	t.Helper()
	scp, _ := jwtClaims(t, at)["scp"].(string)
	var out []string
	for _, s := range strings.Fields(scp) {
		switch {
		case strings.Contains(s, "/"):
			t.Fatalf("scp %q carries a qualified name", scp)
		case s != oidc.ScopeOpenID && s != "profile" && s != "email" && s != oidc.ScopeOfflineAccess:
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

func TestMSALResourceQualifiedScopes(t *testing.T) {
	m := startMSALEnv(t)
	env, f := m.env, m.fixture()
	api := env.base + "/v1.0"
	for _, tc := range []struct {
		scope, want string
	}{
		{"https://graph.microsoft.com/User.Read", "User.Read"},
		{api + "/User.Read", "User.Read"},
		{"HTTPS://GRAPH.MICROSOFT.COM/user.read", "User.Read"},
		{"https://graph.microsoft.com/User.Read User.Read " + api + "/User.Read", "User.Read"},
		{"https://graph.microsoft.com/User.ReadWrite User.Read", "User.ReadWrite User.Read"},
		// .default: every resource scope the app may request.
		{"https://graph.microsoft.com/.default", "User.Read User.ReadWrite"},
		{api + "/.default", "User.Read User.ReadWrite"},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			form := env.codeForm(t, f, oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess, tc.scope)
			status, _, body := env.postToken(t, f, "", form)
			if status != http.StatusOK {
				t.Fatalf("code exchange: %d %v", status, body)
			}
			at := body["access_token"].(string)
			if scp := apiScopes(t, at); scp != tc.want {
				t.Fatalf("scp's API scopes = %q, want %q", scp, tc.want)
			}
			if status, _ := env.getMe(t, at); status != http.StatusOK {
				t.Fatalf("GET /v1.0/me = %d", status)
			}
			// MSAL refreshes with the names the app used, plus OIDC's.
			for _, scope := range []string{tc.scope + " openid profile offline_access", "https://graph.microsoft.com/.default"} {
				status, _, body = env.postToken(t, f, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "scope": {scope}})
				if status != http.StatusOK {
					t.Fatalf("refresh with scope %q: %d %v", scope, status, body)
				}
				if scp := apiScopes(t, body["access_token"].(string)); scp != tc.want {
					t.Fatalf("refresh with scope %q: scp's API scopes = %q, want %q", scope, scp, tc.want)
				}
			}
		})
	}

	// .default at refresh time is what the grant holds, never more.
	form := env.codeForm(t, f, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "User.Read")
	_, _, body := env.postToken(t, f, "", form)
	status, _, body := env.postToken(t, f, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "scope": {api + "/.default offline_access"}})
	if scp := apiScopes(t, body["access_token"].(string)); status != http.StatusOK || scp != "User.Read" {
		t.Fatalf("refresh with .default of a User.Read grant: %d scp %v", status, scp)
	}
	// A qualified name for a scope the grant lacks is refused, as the bare
	// one is.
	status, _, body = env.postToken(t, f, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "scope": {"https://graph.microsoft.com/User.ReadWrite"}})
	if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Fatalf("refresh asking for more than the grant: %d %v", status, body)
	}

	// Refused at the authorization endpoint: scopes the app may not
	// request, unknown scopes, other resources.
	c := env.rp(env.a, true, oidc.ScopeOpenID) // tenant a's web app may not request User.ReadWrite
	for _, scope := range []string{
		"https://graph.microsoft.com/User.ReadWrite",
		"https://graph.microsoft.com/Mail.Read",
		"https://evil.example/User.Read",
		"https://graph.microsoft.com.evil.example/User.Read",
		env.base + "/v2.0/User.Read",
		"https://graph.microsoft.com/openid",
		"api://" + env.a.webID + "/.default",
	} {
		p := env.browser().get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("scope", "openid "+scope)))
		if q := redirected(t, p); q.Get("error") != "invalid_scope" {
			t.Errorf("scope %q: %v, want invalid_scope", scope, q)
		}
	}
}

// endSession opens the end-session endpoint of tenant f with params, in
// browser b, and answers the confirmation page with "Sign out"; it returns
// the page after that (a redirect).
func (e *testEnv) endSession(t *testing.T, b *browser, f tenantFixture, params url.Values) page {
	t.Helper()
	p := b.get(f.issuer(e.base) + "/end_session?" + params.Encode())
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
		t.Fatalf("end_session?%s: want the confirmation page, got %d %s", params.Encode(), p.status, p.body)
	}
	action, form := p.form(t)
	form.Set("decision", "signout")
	return b.post(action, form)
}

func TestMSALLogoutWithoutClientID(t *testing.T) {
	env := startEnv(t)
	f := env.a
	c := env.rp(f, true, oidc.ScopeOpenID)
	bye := "https://app.example/a/bye" // registered by tenant a's web app
	done := f.issuer(env.base) + "/logout/done"

	// msal-browser's logoutRedirect: post_logout_redirect_uri, state and
	// client-request-id, neither client_id nor id_token_hint.
	b := env.browser()
	c.login(b, f)
	p := env.endSession(t, b, f, url.Values{"post_logout_redirect_uri": {bye}, "state": {"st-bye"}, "client-request-id": {msalRequestID}})
	if loc := p.header.Get("Location"); loc != bye+"?state=st-bye" {
		t.Fatalf("logout to a registered URI: %d Location %q", p.status, loc)
	}
	// Signed out: the next authorization asks for the password.
	if p := b.get(c.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("after logout, authorize = %d", p.status)
	}

	// Never an open redirect: anything but an exact registered URI of this
	// tenant's apps ends on Foyer's signed-out page, the session ended all
	// the same.
	for _, uri := range []string{
		"https://evil.example/",
		"https://evil.example/a/bye",
		"//evil.example/a/bye",
		"https://app.example/a/bye/",
		"https://app.example/a/byex",
		"https://app.example/a/bye?next=https://evil.example/",
		"https://app.example/a/bye#x",
		"https://APP.example/a/bye",
		"https://app.example:443/a/bye",
		"https://app.example/a/%62ye",
		"https://app.example/b/bye", // tenant b's, not this tenant's
		"https://app.example/a/callback",
		"javascript:alert(1)",
	} {
		t.Run(uri, func(t *testing.T) {
			b := env.browser()
			c.login(b, f)
			p := env.endSession(t, b, f, url.Values{"post_logout_redirect_uri": {uri}, "state": {"s"}})
			// The browser follows redirects to Foyer; one to the app would stop.
			if p.status != http.StatusOK || p.url.String() != done {
				t.Fatalf("post_logout_redirect_uri %q: %d at %s (Location %q), want the signed-out page %s", uri, p.status, p.url, p.header.Get("Location"), done)
			}
			if p := b.get(c.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); !strings.Contains(p.body, `name="password"`) {
				t.Fatalf("still signed in after logout")
			}
		})
	}
	// Tenant b's URI works at tenant b.
	b = env.browser()
	env.rp(env.b, true, oidc.ScopeOpenID).login(b, env.b)
	if p := env.endSession(t, b, env.b, url.Values{"post_logout_redirect_uri": {"https://app.example/b/bye"}}); p.header.Get("Location") != "https://app.example/b/bye" {
		t.Fatalf("tenant b's own URI: Location %q", p.header.Get("Location"))
	}
	// The signed-out page itself.
	if p := env.browser().get(done); p.status != http.StatusOK {
		t.Fatalf("signed-out page: %d", p.status)
	}
}

func TestDiscoveryWithoutV2(t *testing.T) {
	env := startEnv(t)
	get := func(u string) (int, string) {
		resp, err := env.client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, want := get(env.a.issuer(env.base) + "/.well-known/openid-configuration")
	if status != http.StatusOK || !strings.Contains(want, `"issuer":"`+env.a.issuer(env.base)+`"`) {
		t.Fatalf("v2.0 discovery: %d %s", status, want)
	}
	for _, alias := range []string{env.a.id, env.a.name} {
		if status, got := get(env.base + "/" + alias + "/.well-known/openid-configuration"); status != http.StatusOK || got != want {
			t.Fatalf("B/%s/.well-known/openid-configuration: %d\n%s\nwant the v2.0 document\n%s", alias, status, got, want)
		}
	}
	if status, _ := get(env.base + "/no-such-tenant/.well-known/openid-configuration"); status != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d", status)
	}
}
