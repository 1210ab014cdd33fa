package main

// The world of the Graph API tests: three tenants of their own beside the
// harness's two, provisioned through the same --config YAML
// (startEnvWith), with apps allowed every scope the API checks, and real
// tokens from the real token endpoint.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// graphAllScopes are the scopes the Graph tests' web app may request.
var graphAllScopes = []string{"openid", "profile", "email", "offline_access", "User.Read", "User.ReadWrite",
	"Directory.AccessAsUser.All", "User.ReadWrite.All", "Policy.Read.All", "Policy.ReadWrite.Authorization",
	"AuditLog.Read.All"}

// graphWorld is a running Foyer with the Graph tests' tenants:
//
//	x   external   cust, other (customers: emailAddress identity), admin (Global Administrator)
//	w1  workforce  m1, m2, admin; members may read other users (the workforce default);
//	               its web app is multi-tenant (the common issuer)
//	w2  workforce  m1, m2, locky; allowedToReadOtherUsers false
//
// Every user's password is pw. Each tenant has a confidential web app
// allowed graphAllScopes and a public SPA allowed fewer.
type graphWorld struct {
	env    *testEnv
	sfx    string
	pw     string
	secret string
	x      *graphTenant
	w1, w2 *graphTenant
}

type graphTenant struct {
	key, name, id, domain string
	web, spa, redirect    string
	users                 map[string]storage.User // by local part
}

func (g *graphTenant) mail(local string) string { return local + "@" + g.domain }

func (g *graphTenant) user(t *testing.T, local string) storage.User {
	t.Helper()
	u, ok := g.users[local]
	if !ok {
		t.Fatalf("no user %s in %s", local, g.key)
	}
	return u
}

func startGraphWorld(t *testing.T, opts ...func(*Config)) *graphWorld {
	t.Helper()
	sfx := suffix()
	w := &graphWorld{
		sfx:    sfx,
		pw:     "correct horse battery " + sfx,
		secret: "graph-secret-" + sfx + "-0123456789abcdefghijklmnop",
	}
	t.Setenv("GRAPH_TEST_SECRET", w.secret)
	t.Setenv("GRAPH_TEST_PASSWORD", w.pw)
	mk := func(key string) *graphTenant {
		return &graphTenant{
			key: key, name: "g" + key + "-" + sfx, domain: "g" + key + sfx + ".example",
			web: "g" + key + "-web-" + sfx, spa: "g" + key + "-spa-" + sfx,
			redirect: "https://app.example/g" + key + "/callback",
			users:    map[string]storage.User{},
		}
	}
	w.x, w.w1, w.w2 = mk("x"), mk("w1"), mk("w2")
	type spec struct {
		t      *graphTenant
		kind   storage.TenantKind
		policy string
		users  []string
	}
	specs := []spec{
		{w.x, storage.External, "", []string{"cust", "other", "admin"}},
		{w.w1, storage.Workforce, "", []string{"m1", "m2", "admin"}},
		{w.w2, storage.Workforce, `
    authorizationPolicy:
      defaultUserRolePermissions:
        allowedToReadOtherUsers: false`, []string{"m1", "m2", "locky"}},
	}
	var doc strings.Builder
	for _, s := range specs {
		fmt.Fprintf(&doc, `
  - name: %s
    displayName: Graph %s
    kind: %s
    domains: [%s]%s
    apps:
      - clientId: %s
        displayName: Graph web
        redirectUris: [%s]
        scopes: [%s]
        clientSecretEnv: GRAPH_TEST_SECRET%s
      - clientId: %s
        displayName: Graph SPA
        redirectUris: [%s]
        scopes: [openid, offline_access, User.Read, User.ReadWrite]
    users:`, s.t.name, strings.ToUpper(s.t.key), s.kind, s.t.domain, s.policy, s.t.web, s.t.redirect,
			strings.Join(graphAllScopes, ", "), map[bool]string{true: "\n        multiTenant: true"}[s.t == w.w1], s.t.spa, s.t.redirect)
		for _, u := range s.users {
			fmt.Fprintf(&doc, `
      - mail: %s
        displayName: %s %s
        givenName: %s
        surname: %s
        passwordEnv: GRAPH_TEST_PASSWORD`, s.t.mail(u), strings.ToUpper(u[:1])+u[1:], strings.ToUpper(s.t.key),
				strings.ToUpper(u[:1])+u[1:], strings.ToUpper(s.t.key))
			if u == "admin" {
				doc.WriteString("\n        roles: [Global Administrator]")
			}
		}
		doc.WriteString("\n")
	}
	w.env = startEnvWith(t, doc.String(), opts...)
	ctx := context.Background()
	for _, s := range specs {
		id, err := w.env.app.store.TenantIDByName(ctx, s.t.name)
		if err != nil {
			t.Fatal(err)
		}
		s.t.id = id
		for _, local := range s.users {
			uid, err := w.env.app.store.UserIDByMail(ctx, id, s.t.mail(local))
			if err != nil {
				t.Fatalf("%s: %v", s.t.mail(local), err)
			}
			u, err := w.env.app.store.GetUser(ctx, id, uid)
			if err != nil {
				t.Fatal(err)
			}
			s.t.users[local] = u
		}
	}
	return w
}

// graphSession is one user's browser, with an SSO session after the first
// token, so that further tokens cost no password hashing.
type graphSession struct {
	w     *graphWorld
	t     *graphTenant
	local string
	b     *browser
	pw    string // the password to sign in with; the world's when empty
}

func (s *graphSession) password() string {
	if s.pw != "" {
		return s.pw
	}
	return s.w.pw
}

// signInWith submits the sign-in form with pw and returns the page after
// it (200: the form again, refused).
func (s *graphSession) signInWith(t *testing.T, pw string) page {
	t.Helper()
	c := s.w.env.rp(tenantFixture{id: s.t.id, spaID: s.t.spa, redirect: s.t.redirect}, false, "openid")
	s.b.t = t
	p := s.b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if p.status != http.StatusOK {
		t.Fatalf("no sign-in page: %d %s", p.status, p.url)
	}
	return s.b.signIn(p, s.t.mail(s.local), pw)
}

func (w *graphWorld) as(tn *graphTenant, local string) *graphSession {
	return &graphSession{w: w, t: tn, local: local, b: w.env.browser()}
}

// graphToken is a token response and the client that can refresh it.
type graphToken struct {
	*oauth2.Token
	c *client
}

// token runs the code flow for the session's user with app ("web": the
// confidential app allowed every scope; "spa": the public one), signing in
// and accepting the consent page when they come, and returns the tokens.
func (s *graphSession) token(t *testing.T, app string, scopes ...string) graphToken {
	t.Helper()
	return s.tokenAt(t, s.t.id, app, scopes...)
}

// tokenAt is token at the issuer of issuerID (a tenant ID, or
// storage.CommonTenantID for the multi-tenant web app of w1).
func (s *graphSession) tokenAt(t *testing.T, issuerID, app string, scopes ...string) graphToken {
	t.Helper()
	f := tenantFixture{name: s.t.name, id: issuerID, webID: s.t.web, webSecret: s.w.secret, spaID: s.t.spa,
		redirect: s.t.redirect, user: s.t.mail(s.local), password: s.password()}
	c := s.w.env.rp(f, app == "web", scopes...)
	c.t, s.b.t = t, t
	verifier := oauth2.GenerateVerifier()
	p := s.b.get(c.conf.AuthCodeURL("st-"+suffix(), oauth2.S256ChallengeOption(verifier), oidc.Nonce(suffix())))
	if p.status == http.StatusOK && strings.Contains(p.body, `name="`+templates.FieldPassword+`"`) {
		p = s.b.signIn(p, f.user, f.password)
	}
	if p.status == http.StatusOK && strings.Contains(p.body, `value="`+templates.DecisionAccept+`"`) {
		action, fields := p.form(t)
		fields.Set(templates.FieldDecision, templates.DecisionAccept)
		p = s.b.post(action, fields)
	}
	q := redirected(t, p)
	if q.Get("error") != "" {
		t.Fatalf("authorization for %s: %s: %s", f.user, q.Get("error"), q.Get("error_description"))
	}
	tok, err := c.exchange(q.Get("code"), verifier)
	if err != nil {
		t.Fatalf("exchange for %s: %v", f.user, err)
	}
	return graphToken{tok, c}
}

// graphResp is an API response.
type graphResp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

// call sends method path (below the base URL) with the bearer token; body,
// when not nil, is sent as application/json (a string as is, anything else
// marshalled).
func (w *graphWorld) call(t *testing.T, method, path, token string, body any) graphResp {
	t.Helper()
	return w.callCT(t, method, path, token, body, "application/json")
}

func (w *graphWorld) callCT(t *testing.T, method, path, token string, body any, contentType string) graphResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		s, ok := body.(string)
		if !ok {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			s = string(b)
		}
		rd = strings.NewReader(s)
	}
	req, err := http.NewRequest(method, w.env.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return w.do(t, req)
}

func (w *graphWorld) do(t *testing.T, req *http.Request) graphResp {
	t.Helper()
	resp, err := w.env.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := graphResp{status: resp.StatusCode, header: resp.Header, body: b}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.json); err != nil {
			t.Fatalf("%s %s: %d, body not a JSON object: %v\n%s", req.Method, req.URL.Path, r.status, err, b)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
		}
	}
	return r
}

func (r graphResp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// str returns the string at a dotted path of the JSON body (a top-level
// key that has dots, such as @odata.context, is taken whole).
func (r graphResp) str(path string) string {
	if s, ok := r.json[path].(string); ok {
		return s
	}
	var v any = r.json
	for p := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func wantStatus(t *testing.T, r graphResp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %s, want %d", r, status)
	}
}

// wantGraphError checks Graph's error envelope: status, code, a message,
// innerError's date, request-id (a GUID, the X-Request-Id and request-id
// of the response) and client-request-id (the header of the response).
func wantGraphError(t *testing.T, r graphResp, status int, code string) {
	t.Helper()
	wantStatus(t, r, status)
	e, ok := r.json["error"].(map[string]any)
	if !ok || len(r.json) != 1 {
		t.Fatalf("not Graph's error envelope: %s", r.body)
	}
	if got := r.str("error.code"); got != code {
		t.Fatalf("error code %q, want %q: %s", got, code, r.body)
	}
	if r.str("error.message") == "" {
		t.Fatalf("no message: %s", r.body)
	}
	inner, _ := e["innerError"].(map[string]any)
	id, _ := inner["request-id"].(string)
	if !storage.IsID(id) || id != r.header.Get("X-Request-Id") || id != r.header.Get("request-id") {
		t.Fatalf("innerError.request-id %q, X-Request-Id %q, request-id %q", id, r.header.Get("X-Request-Id"), r.header.Get("request-id"))
	}
	if cid, _ := inner["client-request-id"].(string); cid == "" || cid != r.header.Get("client-request-id") {
		t.Fatalf("innerError.client-request-id %q, client-request-id %q", cid, r.header.Get("client-request-id"))
	}
	date, _ := inner["date"].(string)
	if d, err := time.Parse(time.RFC3339, date); err != nil || time.Since(d) > time.Minute {
		t.Fatalf("innerError.date %q", date)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
}

// wantInvalidToken checks a 401 for a bad token.
func wantInvalidToken(t *testing.T, r graphResp) {
	t.Helper()
	wantGraphError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
	if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, `Bearer error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", h)
	}
}

// wantDenied checks 403 Authorization_RequestDenied without a scope
// challenge: the caller may not do it with any scope.
func wantDenied(t *testing.T, r graphResp) {
	t.Helper()
	wantGraphError(t, r, http.StatusForbidden, "Authorization_RequestDenied")
	if h := r.header.Get("WWW-Authenticate"); h != "" {
		t.Fatalf("WWW-Authenticate %q on a refusal no scope would lift", h)
	}
}

// wantInsufficientScope checks 403 with the insufficient_scope challenge
// naming scope.
func wantInsufficientScope(t *testing.T, r graphResp, scope string) {
	t.Helper()
	wantGraphError(t, r, http.StatusForbidden, "Authorization_RequestDenied")
	h := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(h, `Bearer error="insufficient_scope"`) || !strings.Contains(h, `scope="`+scope+`"`) {
		t.Fatalf("WWW-Authenticate %q, want insufficient_scope with scope %q", h, scope)
	}
}

// wantBadRequest checks a 400 whose message names what is wrong.
func wantBadRequest(t *testing.T, r graphResp, code string, parts ...string) {
	t.Helper()
	wantGraphError(t, r, http.StatusBadRequest, code)
	for _, p := range parts {
		if !strings.Contains(r.str("error.message"), p) {
			t.Fatalf("message %q does not name %q", r.str("error.message"), p)
		}
	}
}

// sameRefusal checks that two refusals are the same answer but for the
// request's own ID and date.
func sameRefusal(t *testing.T, what string, a, b graphResp) {
	t.Helper()
	strip := func(r graphResp) string {
		e, _ := r.json["error"].(map[string]any)
		c := map[string]any{}
		for k, v := range e {
			if k != "innerError" {
				c[k] = v
			}
		}
		out, _ := json.Marshal(c)
		return fmt.Sprintf("%d %s %q", r.status, out, r.header.Get("WWW-Authenticate"))
	}
	if sa, sb := strip(a), strip(b); sa != sb {
		t.Fatalf("%s: answers differ:\n%s\n%s", what, sa, sb)
	}
}
