package main

// Sign-up and password reset through the pages, end to end: the decision
// table of DESIGN.md section 2, the audit log, and self-service password
// reset. The attacks on codes are in signup_attacks_test.go, mail over SMTP
// in signup_smtp_test.go.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/provider/email"
	"github.com/foyer-id/foyer/storage"
)

// --- helpers shared by the signup_*_test.go files ---

// suClock is the sign-up service's clock (Config.clock): real time plus an
// offset the test advances, or a frozen instant.
type suClock struct {
	mu     sync.Mutex
	offset time.Duration
	frozen time.Time
}

func (c *suClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// freeze stops the clock at the current time (until advanced).
func (c *suClock) freeze() {
	c.mu.Lock()
	c.frozen = time.Now()
	c.mu.Unlock()
}

func (c *suClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// option installs the clock in the env's configuration.
func (c *suClock) option() func(*Config) { return func(cfg *Config) { cfg.clock = c.Now } }

// browserFor is a new browser whose failures are reported on t (a subtest).
func (e *testEnv) browserFor(t *testing.T) *browser {
	b := e.browser()
	b.t = t
	return b
}

// rpFor is a confidential relying party on issuer (a tenant ID, or
// storage.CommonTenantID) for an app registered with clientID and secret.
func (e *testEnv) rpFor(issuerID, clientID, secret, redirect string) *client {
	e.t.Helper()
	return e.rp(tenantFixture{id: issuerID, webID: clientID, webSecret: secret, redirect: redirect}, true,
		oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess)
}

// signUpPage opens an authorization request with prompt=create and returns
// the "Create your account" page it lands on and the PKCE verifier.
func signUpPage(t *testing.T, b *browser, c *client) (page, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	p := b.get(c.conf.AuthCodeURL("st-"+suffix(), oauth2.S256ChallengeOption(verifier), oidc.Nonce(suffix()),
		oauth2.SetAuthURLParam("prompt", "create")))
	if p.status != http.StatusOK || !strings.Contains(p.body, "Create your account") {
		t.Fatalf("prompt=create: %d at %s:\n%s", p.status, p.url, p.body)
	}
	return p, verifier
}

var reForgot = regexp.MustCompile(`href="([^"]*/reset\?id=[^"]*)"`)

// resetPage opens an authorization request and follows the sign-in page's
// "Forgot your password?" link, or, when the page has none (SSPR off),
// the same URL built by hand.
func resetPage(t *testing.T, b *browser, c *client) (page, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	p := b.get(c.conf.AuthCodeURL("st-"+suffix(), oauth2.S256ChallengeOption(verifier), oidc.Nonce(suffix())))
	if p.status != http.StatusOK {
		t.Fatalf("sign-in page: %d %s", p.status, p.body)
	}
	link := ""
	if m := reForgot.FindStringSubmatch(p.body); m != nil {
		link = htmlUnescape(m[1])
	} else {
		action, _ := p.form(t)
		link = strings.Replace(action, "/login?", "/reset?", 1)
	}
	return b.get(link), verifier
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// submitEmail posts addr on a start page (sign-up or reset).
func submitEmail(b *browser, p page, addr string) page {
	b.t.Helper()
	return b.submit(p, map[string]string{"email": addr})
}

// submitProfile fills the last sign-up page, and accepts the consent page
// when one follows (an app not pre-consented in the user's tenant).
func submitProfile(b *browser, p page) page {
	b.t.Helper()
	return b.consent(b.submit(p, map[string]string{"displayName": "New Person", "givenName": "New", "surname": "Person",
		"password": "a long and unusual passphrase " + suffix()}))
}

var reSecondary = regexp.MustCompile(`<form method="post" action="([^"]+)" class="secondary-form">`)

// resend presses "Send a new code" on a code page.
func resend(b *browser, p page) page {
	b.t.Helper()
	m := reSecondary.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no resend form on %s:\n%s", p.url, p.body)
	}
	_, f := p.form(b.t)
	return b.post(htmlUnescape(m[1]), f)
}

// flowID is the sign-up flow of a code or profile page.
func flowID(t *testing.T, p page) string {
	t.Helper()
	_, f := p.form(t)
	if f.Get("flow") == "" {
		t.Fatalf("no flow on %s:\n%s", p.url, p.body)
	}
	return f.Get("flow")
}

// mailsTo returns the messages sent to addr, newest first.
func (e *testEnv) mailsTo(addr string) []email.Received {
	var out []email.Received
	for _, m := range e.app.mailbox.Messages() {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// reMailCode is the code on a line of its own in a mail's text (URLs and
// names in a mail may hold 8 digits too: a tenant GUID's first group).
var reMailCode = regexp.MustCompile(`(?m)^[ \t]*(\d{8})[ \t]*\r?$`)

// codeOf returns the 8-digit code of a message, or "".
func codeOf(m email.Received) string {
	if c := reMailCode.FindStringSubmatch(m.Text); c != nil {
		return c[1]
	}
	return ""
}

// codeTo returns the code of the newest message to addr, or "".
func (e *testEnv) codeTo(addr string) string {
	if ms := e.mailsTo(addr); len(ms) > 0 {
		return codeOf(ms[0])
	}
	return ""
}

// wantRefusal checks an error page: its status and the reason code it shows.
func wantRefusal(t *testing.T, p page, status int, reason string) {
	t.Helper()
	if p.status != status || !strings.Contains(p.body, "<code>"+reason+"</code>") {
		t.Fatalf("want %d %s, got %d at %s:\n%s", status, reason, p.status, p.url, p.body)
	}
}

// samePage checks that two pages differ only in the address they name and
// in volatile attributes (tokens, flow IDs, URLs).
func samePage(t *testing.T, what string, a page, aAddr string, b page, bAddr string) {
	t.Helper()
	norm := func(p page, addr string) string {
		return reVolatile.ReplaceAllString(strings.ReplaceAll(p.body, addr, "ADDRESS"), "")
	}
	if a.status != b.status {
		t.Fatalf("%s: status %d vs %d", what, a.status, b.status)
	}
	if x, y := norm(a, aAddr), norm(b, bAddr); x != y {
		t.Fatalf("%s: pages differ:\n%s\n---\n%s", what, x, y)
	}
	for _, h := range []string{"Retry-After", "Content-Type", "Cache-Control"} {
		if a.header.Get(h) != b.header.Get(h) {
			t.Fatalf("%s: header %s %q vs %q", what, h, a.header.Get(h), b.header.Get(h))
		}
	}
}

// idClaims exchanges the code of a redirect to the app and returns the ID
// token's issuer and claims.
func idClaims(t *testing.T, c *client, p page, verifier string) (*oauth2.Token, string, map[string]any) {
	t.Helper()
	q := redirected(t, p)
	if q.Get("error") != "" {
		t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	return exchangeClaims(t, c, q.Get("code"), verifier)
}

// exchangeClaims exchanges an authorization code and returns the ID token's
// issuer and claims.
func exchangeClaims(t *testing.T, c *client, code, verifier string) (*oauth2.Token, string, map[string]any) {
	t.Helper()
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := c.verifier.Verify(c.env.ctx(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return tok, idt.Issuer, claims
}

// audit returns the tenant's audit events, newest first.
func (e *testEnv) audit(t *testing.T, tenantID string) []storage.AuditEvent {
	t.Helper()
	evs, err := e.app.store.ListAudit(t.Context(), tenantID, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// countAudit counts the tenant's events of activity and reason ("" for any).
func (e *testEnv) countAudit(t *testing.T, tenantID, activity, reason string) int {
	t.Helper()
	n := 0
	for _, ev := range e.audit(t, tenantID) {
		if (activity == "" || ev.Activity == activity) && (reason == "" || ev.Reason == reason) {
			n++
		}
	}
	return n
}

func (e *testEnv) tenantID(name string) string {
	e.t.Helper()
	id, err := e.app.store.TenantIDByName(e.t.Context(), name)
	if err != nil {
		e.t.Fatalf("tenant %s: %v", name, err)
	}
	return id
}

// --- the decision table ---

// suWorld is startEnv plus the tenants of the decision table: workforce
// tenants with verified domains and J/S set by YAML, an external tenant
// with sign-up off, and a multi-tenant app for the common issuer.
type suWorld struct {
	*testEnv
	sfx                string
	password           string // of every provisioned user below
	mt                 *client
	mtID, mtSecret     string
	wfJ, wfNJ, wfNS    string // tenant IDs: J&S true; J false; S false
	dJ, dNJ, dNS       string // their domains
	bob, carol, dan    string // existing members of wfJ, wfNJ, wfNS
	extNS              string // external tenant with S false
	extNSWeb           *client
	erin               string // existing customer of extNS
	noSSPR             string // external tenant with SSPR off
	noSSPRWeb          *client
	frank              string // customer of noSSPR
	mtRedirect, extRed string
}

func startSignUpWorld(t *testing.T, opts ...func(*Config)) *suWorld {
	t.Helper()
	sfx := suffix()
	w := &suWorld{sfx: sfx, password: "correct horse battery staple " + sfx,
		mtID: "mt-" + sfx, mtSecret: "mt-secret-" + sfx + "-0123456789abcdefghijklmnop",
		dJ: "j-" + sfx + ".example", dNJ: "nj-" + sfx + ".example", dNS: "ns-" + sfx + ".example",
		mtRedirect: "https://app.example/mt/callback", extRed: "https://app.example/ext/callback"}
	w.bob, w.carol, w.dan = "bob@"+w.dJ, "carol@"+w.dNJ, "dan@"+w.dNS
	w.erin, w.frank = "erin@extns-"+sfx+".example", "frank@nosspr-"+sfx+".example"
	t.Setenv("SU_SECRET", w.mtSecret)
	t.Setenv("SU_PASSWORD", w.password)
	user := func(mail, name string) string {
		return fmt.Sprintf(`
      - mail: %s
        displayName: %s
        givenName: %s
        surname: Example
        passwordEnv: SU_PASSWORD`, mail, name, name)
	}
	app := func(id, redirect, extra string) string {
		return fmt.Sprintf(`
      - clientId: %s
        displayName: Sign-up test app
        redirectUris: [%s]
        scopes: [openid, profile, email, offline_access, User.Read]
        clientSecretEnv: SU_SECRET%s`, id, redirect, extra)
	}
	policy := func(s, j, sspr bool) string {
		return fmt.Sprintf(`
    authorizationPolicy:
      allowedToSignUpEmailBasedSubscriptions: %v
      allowEmailVerifiedUsersToJoinOrganization: %v
      allowedToUseSSPR: %v`, s, j, sspr)
	}
	extra := fmt.Sprintf(`
  - name: wfj-%[1]s
    displayName: Workforce J
    kind: workforce
    domains: [%[2]s]%[5]s
    apps:%[8]s
    users:%[11]s
  - name: wfnj-%[1]s
    displayName: Workforce NJ
    kind: workforce
    domains: [%[3]s]%[6]s
    users:%[12]s
  - name: wfns-%[1]s
    displayName: Workforce NS
    kind: workforce
    domains: [%[4]s]%[7]s
    users:%[13]s
  - name: extns-%[1]s
    displayName: External NS
    kind: external%[7]s
    apps:%[9]s
    users:%[14]s
  - name: nosspr-%[1]s
    displayName: No SSPR
    kind: external%[16]s
    apps:%[10]s
    users:%[15]s
`, sfx, w.dJ, w.dNJ, w.dNS,
		policy(true, true, true), policy(true, false, true), policy(false, true, true),
		app(w.mtID, w.mtRedirect, "\n        multiTenant: true"),
		app("extns-web-"+sfx, w.extRed, "\n        signUpEnabled: true"),
		app("nosspr-web-"+sfx, w.extRed, "\n        signUpEnabled: true"),
		user(w.bob, "Bob"), user(w.carol, "Carol"), user(w.dan, "Dan"), user(w.erin, "Erin"), user(w.frank, "Frank"),
		policy(true, true, false))
	w.testEnv = startEnvWith(t, extra, append([]func(*Config){noIPLimit}, opts...)...)
	w.wfJ, w.wfNJ, w.wfNS = w.tenantID("wfj-"+sfx), w.tenantID("wfnj-"+sfx), w.tenantID("wfns-"+sfx)
	w.extNS, w.noSSPR = w.tenantID("extns-"+sfx), w.tenantID("nosspr-"+sfx)
	w.mt = w.rpFor(storage.CommonTenantID, w.mtID, w.mtSecret, w.mtRedirect)
	w.extNSWeb = w.rpFor(w.extNS, "extns-web-"+sfx, w.mtSecret, w.extRed)
	w.noSSPRWeb = w.rpFor(w.noSSPR, "nosspr-web-"+sfx, w.mtSecret, w.extRed)
	return w
}

// commonFixture is the fixture of a user signing in at the common issuer
// with the multi-tenant app.
func (w *suWorld) commonFixture(user string) tenantFixture {
	return tenantFixture{id: storage.CommonTenantID, webID: w.mtID, webSecret: w.mtSecret, redirect: w.mtRedirect,
		user: user, password: w.password}
}

func TestSignUpDecisionTable(t *testing.T) {
	w := startSignUpWorld(t)
	ctx := t.Context()
	appA := w.rp(w.a, true, oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess)
	spaA := w.rp(w.a, false, oidc.ScopeOpenID, "profile", "email")
	newDomain := "new-" + w.sfx + ".example"
	commonIss := w.base + "/common/v2.0"

	type row struct {
		name string
		c    *client
		addr string
		// refusal when the address is submitted
		startStatus int
		startReason string
		// refusal right after the code proves the address, before the
		// page asks for a name and a password
		codeReason string
		// the address has an account: the owner is mailed, nobody is created
		existing bool
		// tenant of the account created ("" when the row must create one)
		home string
		// creationType of the account created
		creationType string
		// another new address of the same path, for comparing pages
		twin string
	}
	rows := []row{
		// app path, external tenant
		{name: "app/S false/new", c: w.extNSWeb, addr: "new-" + w.sfx + "@extns.example", startStatus: 403, startReason: "signUpDisabled"},
		{name: "app/S false/existing", c: w.extNSWeb, addr: w.erin, startStatus: 403, startReason: "signUpDisabled"},
		{name: "app/signUpEnabled false", c: spaA, addr: "spa-" + w.sfx + "@example.org", startStatus: 403, startReason: "appSignUpDisabled"},
		{name: "app/S true/new", c: appA, addr: "new-" + w.sfx + "@example.org", home: w.a.id, creationType: "SelfServiceSignUp"},
		{name: "app/S true/existing", c: appA, addr: w.a.user, existing: true, home: w.a.id, twin: "twin-" + w.sfx + "@example.org"},
		// domain join through the common issuer
		{name: "join/S false/new", c: w.mt, addr: "new@" + w.dNS, startStatus: 403, startReason: "signUpDisabled"},
		{name: "join/S false/existing", c: w.mt, addr: w.dan, startStatus: 403, startReason: "signUpDisabled"},
		{name: "join/J false/existing", c: w.mt, addr: w.carol, existing: true, home: w.wfNJ, twin: "twin@" + w.dNJ},
		{name: "join/J false/new", c: w.mt, addr: "new@" + w.dNJ, codeReason: "emailVerifiedJoinDisabled", home: w.wfNJ},
		{name: "join/J true/new", c: w.mt, addr: "new@" + w.dJ, home: w.wfJ, creationType: "EmailVerified"},
		{name: "join/J true/existing", c: w.mt, addr: w.bob, existing: true, home: w.wfJ, twin: "twin@" + w.dJ},
		{name: "join/no tenant for the domain", c: w.mt, addr: "first@" + newDomain, creationType: "EmailVerified"},
		{name: "join/consumer domain", c: w.mt, addr: "someone." + w.sfx + "@gmail.com", startStatus: 403, startReason: "domainNotAllowed"},
		{name: "join/domain of an external tenant", c: w.mt, addr: "new@" + strings.SplitN(w.a.user, "@", 2)[1], startStatus: 403, startReason: "domainNotAllowed"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			b := w.browserFor(t)
			tc.c.t = t
			defer func() { tc.c.t = w.t }()
			before := len(w.mailsTo(tc.addr))
			var usersBefore []storage.User
			if tc.home != "" {
				usersBefore, _ = w.app.store.ListUsers(ctx, tc.home)
			}
			start, verifier := signUpPage(t, b, tc.c)
			p := submitEmail(b, start, tc.addr)

			if tc.startReason != "" {
				wantRefusal(t, p, tc.startStatus, tc.startReason)
				if n := len(w.mailsTo(tc.addr)); n != before {
					t.Fatalf("a refused sign-up mailed %s", tc.addr)
				}
				return
			}
			if p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
				t.Fatalf("after the address: %d %s", p.status, p.body)
			}
			mails := w.mailsTo(tc.addr)
			if len(mails) != before+1 {
				t.Fatalf("%d messages to %s, want 1", len(mails)-before, tc.addr)
			}

			if tc.existing {
				// The owner is told by mail; the page is the new-address page.
				m := mails[0]
				if !strings.HasPrefix(m.Subject, "You already have an account") || codeOf(m) != "" ||
					!strings.Contains(m.Text, "/login?id=") || !strings.Contains(m.HTML, "/login?id=") {
					t.Fatalf("mail to the owner: %+v", m)
				}
				other, _ := signUpPage(t, b, tc.c)
				q := submitEmail(b, other, tc.twin)
				samePage(t, "existing vs new address", p, tc.addr, q, tc.twin)
				if m := w.mailsTo(tc.twin); len(m) != 1 || codeOf(m[0]) == "" {
					t.Fatalf("the new address got %+v, want a code", m)
				}
				// Any code is wrong: there is none.
				r := b.submit(p, map[string]string{"code": "12345678"})
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "not right") {
					t.Fatalf("code on an existing address: %d %s", r.status, r.body)
				}
				users, _ := w.app.store.ListUsers(ctx, tc.home)
				if len(users) != len(usersBefore) {
					t.Fatalf("users %d -> %d: an account was created", len(usersBefore), len(users))
				}
				uid, err := w.app.store.UserIDByMail(ctx, tc.home, tc.addr)
				if err != nil {
					t.Fatal(err)
				}
				u, _ := w.app.store.GetUser(ctx, tc.home, uid)
				if len(u.Identities) != 1 || u.CreationType != "" {
					t.Fatalf("existing user changed: %+v", u)
				}
				if tc.c == w.mt {
					// The address signs in at the common issuer instead:
					// iss is the common issuer, tid the home tenant.
					c := w.rpFor(storage.CommonTenantID, w.mtID, w.mtSecret, w.mtRedirect)
					c.t = t
					code, v, _ := c.login(w.browserFor(t), w.commonFixture(tc.addr))
					_, iss, claims := exchangeClaims(t, c, code, v)
					if iss != commonIss || claims["tid"] != tc.home || claims["sub"] != uid || claims["oid"] != uid {
						t.Fatalf("sign-in at the common issuer: iss %s claims %v", iss, claims)
					}
				}
				return
			}

			code := codeOf(mails[0])
			if code == "" || !strings.HasPrefix(mails[0].Subject, "Your verification code") {
				t.Fatalf("no code mailed: %+v", mails[0])
			}
			p = b.submit(p, map[string]string{"code": code})
			if tc.codeReason != "" {
				wantRefusal(t, p, http.StatusForbidden, tc.codeReason)
				if strings.Contains(p.body, "is confirmed") || strings.Contains(p.body, `name="password"`) {
					t.Fatalf("the refusal asks for a password or calls the address confirmed:\n%s", p.body)
				}
				if _, err := w.app.store.UserIDByMail(ctx, tc.home, tc.addr); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("refused sign-up created a user: %v", err)
				}
				return
			}
			if p.status != http.StatusOK || !strings.Contains(p.body, "Finish creating your account") {
				t.Fatalf("after the code: %d %s", p.status, p.body)
			}
			p = submitProfile(b, p)

			_, iss, claims := idClaims(t, tc.c, p, verifier)
			home := tc.home
			if home == "" {
				// A domain no tenant verified: a new unmanaged workforce
				// tenant, the domain verified in it.
				var err error
				if home, err = w.app.store.TenantIDByDomain(ctx, newDomain); err != nil {
					t.Fatalf("domain not verified anywhere: %v", err)
				}
				nt, err := w.app.store.GetTenant(ctx, home)
				if err != nil || nt.Kind != storage.Workforce {
					t.Fatalf("new tenant %+v %v", nt, err)
				}
				if !nt.Policy.AllowEmailVerifiedUsersToJoinOrganization || !nt.Policy.AllowedToSignUpEmailBasedSubscriptions {
					t.Fatalf("new tenant's policy %+v, want J=S=true", nt.Policy)
				}
				if ds, _ := w.app.store.Domains(ctx, home); !slices.Equal(ds, []string{newDomain}) {
					t.Fatalf("new tenant's domains %v", ds)
				}
				users, _ := w.app.store.ListUsers(ctx, home)
				if len(users) != 1 {
					t.Fatalf("new tenant has %d users", len(users))
				}
				for _, u := range users {
					if len(u.Roles) != 0 {
						t.Fatalf("unmanaged tenant has a role holder: %+v", u)
					}
				}
			}
			wantIss := w.base + "/" + home + "/v2.0"
			if tc.c == w.mt {
				wantIss = commonIss // tokens of a join carry the common issuer
			}
			if iss != wantIss || claims["tid"] != home || claims["email"] != tc.addr {
				t.Fatalf("ID token: iss %s (want %s) claims %v (want tid %s)", iss, wantIss, claims, home)
			}
			uid, _ := claims["oid"].(string)
			u, err := w.app.store.GetUser(ctx, home, uid)
			if err != nil {
				t.Fatalf("user %s not in tenant %s: %v", uid, home, err)
			}
			ht, _ := w.app.store.GetTenant(ctx, home)
			wantIDs := []storage.ObjectIdentity{{SignInType: "emailAddress", Issuer: ht.Name, IssuerAssignedID: tc.addr}}
			if u.CreationType != tc.creationType || u.UserType != "Member" || !u.AccountEnabled || u.Mail != tc.addr ||
				!slices.Equal(u.Identities, wantIDs) || len(u.Roles) != 0 {
				t.Fatalf("user %+v, want creationType %s, identities %+v", u, tc.creationType, wantIDs)
			}
			if id, err := w.app.store.UserIDByMail(ctx, home, tc.addr); err != nil || id != uid {
				t.Fatalf("UserIDByMail: %s %v", id, err)
			}
		})
	}
	// No account ever lives in the common issuer's tenant.
	if us, _ := w.app.store.ListUsers(ctx, storage.CommonTenantID); len(us) != 0 {
		t.Fatalf("users in the common tenant: %+v", us)
	}
}

// --- audit ---

func TestSignUpAudit(t *testing.T) {
	w := startSignUpWorld(t)
	c := w.rp(w.a, true, oidc.ScopeOpenID, "email")
	b := w.browserFor(t)
	start, verifier := signUpPage(t, b, c)
	addr := "audited-" + w.sfx + "@example.org"
	p := submitEmail(b, start, addr)
	p = b.submit(p, map[string]string{"code": "00000000"}) // one wrong code
	p = b.submit(p, map[string]string{"code": w.codeTo(addr)})
	_, _, claims := idClaims(t, c, submitProfile(b, p), verifier)

	evs := w.audit(t, w.a.id)
	find := func(activity, result string) storage.AuditEvent {
		t.Helper()
		for _, ev := range evs {
			if ev.Activity == activity && ev.Result == result {
				return ev
			}
		}
		t.Fatalf("no %s/%s event in %+v", activity, result, evs)
		return storage.AuditEvent{}
	}
	find("signUpAttempt", "success")
	find("codeSent", "success")
	if ev := find("codeFailed", "failure"); ev.Reason != "wrongCode" {
		t.Fatalf("codeFailed reason %q", ev.Reason)
	}
	find("codeVerified", "success")
	created := find("userCreated", "success")
	if created.Target != claims["oid"] || created.Properties["creationType"] != "SelfServiceSignUp" || created.Properties["path"] != "app" {
		t.Fatalf("userCreated %+v", created)
	}
	for _, ev := range evs {
		if strings.Contains(fmt.Sprint(ev), addr) {
			t.Fatalf("audit event holds the whole address: %+v", ev)
		}
	}

	// A refusal carries its reason code.
	b = w.browserFor(t)
	start, _ = signUpPage(t, b, w.extNSWeb)
	wantRefusal(t, submitEmail(b, start, "refused-"+w.sfx+"@example.org"), 403, "signUpDisabled")
	if w.countAudit(t, w.extNS, "signUpAttempt", "signUpDisabled") != 1 {
		t.Fatalf("no signUpDisabled refusal in the audit log: %+v", w.audit(t, w.extNS))
	}
	start, _ = signUpPage(t, b, w.rp(w.a, false, oidc.ScopeOpenID))
	wantRefusal(t, submitEmail(b, start, "refused-"+w.sfx+"@example.org"), 403, "appSignUpDisabled")
	if w.countAudit(t, w.a.id, "signUpAttempt", "appSignUpDisabled") != 1 {
		t.Fatalf("no appSignUpDisabled refusal in the audit log")
	}
}

// TestSignUpJoinAudit: a domain join is decided by the home tenant's
// policy, so its admins must find the attempts and refusals in their own
// audit log (DESIGN.md section 2: every refusal has a reason code shown to
// admins in the audit log); the common issuer's system tenant has no
// admins to read it.
func TestSignUpJoinAudit(t *testing.T) {
	w := startSignUpWorld(t)

	// A member joins wfJ.
	b := w.browserFor(t)
	start, verifier := signUpPage(t, b, w.mt)
	addr := "joiner@" + w.dJ
	p := b.submit(submitEmail(b, start, addr), map[string]string{"code": w.codeTo(addr)})
	_, _, claims := idClaims(t, w.mt, submitProfile(b, p), verifier)
	// The common tenant's log is shared by every env on one Redis: count
	// only this world's events.
	mine := func(ev storage.AuditEvent) bool {
		return ev.Target == claims["oid"] || ev.Properties["clientId"] == w.mtID ||
			strings.HasSuffix(ev.Target, "@"+w.dJ) || strings.HasSuffix(ev.Target, "@"+w.dNJ) || strings.HasSuffix(ev.Target, "@"+w.dNS)
	}
	count := func(tid, activity, reason string) int {
		n := 0
		for _, ev := range w.audit(t, tid) {
			if mine(ev) && (activity == "" || ev.Activity == activity) && (reason == "" || ev.Reason == reason) {
				n++
			}
		}
		return n
	}
	for _, tid := range []string{w.wfJ, storage.CommonTenantID} {
		if n := count(tid, "userCreated", ""); n != 1 {
			t.Errorf("tenant %s: %d userCreated events, want 1", tid, n)
		}
	}

	// J=false refuses right after the code: emailVerifiedJoinDisabled.
	b = w.browserFor(t)
	start, _ = signUpPage(t, b, w.mt)
	addr = "refused@" + w.dNJ
	p = b.submit(submitEmail(b, start, addr), map[string]string{"code": w.codeTo(addr)})
	wantRefusal(t, p, 403, "emailVerifiedJoinDisabled")
	// S=false refuses at once: signUpDisabled.
	start, _ = signUpPage(t, b, w.mt)
	wantRefusal(t, submitEmail(b, start, "refused@"+w.dNS), 403, "signUpDisabled")

	for _, x := range []struct{ tenant, reason string }{
		{storage.CommonTenantID, "emailVerifiedJoinDisabled"}, {storage.CommonTenantID, "signUpDisabled"},
		{w.wfNJ, "emailVerifiedJoinDisabled"}, {w.wfNS, "signUpDisabled"},
	} {
		if n := count(x.tenant, "", x.reason); n != 1 {
			t.Errorf("tenant %s: %d %s refusals in the audit log, want 1", x.tenant, n, x.reason)
		}
	}
}

// --- self-service password reset ---

func TestPasswordReset(t *testing.T) {
	w := startSignUpWorld(t)
	c := w.rp(w.a, true, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	authorize := func(b *browser) page {
		return b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	}

	// Alice is signed in in one browser and her app holds a refresh token.
	b1 := w.browserFor(t)
	code, verifier, _ := c.login(b1, w.a)
	tok, _, _ := exchangeClaims(t, c, code, verifier)
	if p := authorize(b1); p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("no SSO session before the reset: %d", p.status)
	}

	// She resets her password in another.
	b2 := w.browserFor(t)
	p, verifier := resetPage(t, b2, c)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Reset your password") {
		t.Fatalf("reset page: %d %s", p.status, p.body)
	}
	known := submitEmail(b2, p, w.a.user)
	if known.status != http.StatusOK || !strings.Contains(known.body, "Check your email") {
		t.Fatalf("after the address: %d %s", known.status, known.body)
	}
	m := w.mailsTo(w.a.user)
	if len(m) != 1 || !strings.HasPrefix(m[0].Subject, "Your password reset code") || codeOf(m[0]) == "" ||
		!strings.Contains(m[0].HTML, codeOf(m[0])) {
		t.Fatalf("reset mail: %+v", m)
	}
	p = b2.submit(known, map[string]string{"code": codeOf(m[0])})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Choose a new password") {
		t.Fatalf("after the code: %d %s", p.status, p.body)
	}
	newPassword := "a brand new passphrase " + suffix()
	p = b2.submit(p, map[string]string{"password": newPassword})
	if p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Sign in</h1>") {
		t.Fatalf("after the new password: %d at %s %s", p.status, p.url, p.body)
	}
	// The sign-in page she lands on takes the new password and completes
	// the original authorization request.
	_, _, claims := idClaims(t, c, b2.consent(b2.signIn(p, w.a.user, newPassword)), verifier)
	if claims["tid"] != w.a.id || claims["email"] != w.a.user {
		t.Fatalf("claims %v", claims)
	}

	// The old password fails, the new one works anywhere.
	b3 := w.browserFor(t)
	if p := b3.signIn(w.loginPage(b3, w.a), w.a.user, w.a.password); p.status != http.StatusOK || !strings.Contains(p.body, "incorrect") {
		t.Fatalf("old password after the reset: %d %s", p.status, p.body)
	}
	fresh := w.a
	fresh.password = newPassword
	code, verifier, _ = c.login(w.browserFor(t), fresh)
	exchangeClaims(t, c, code, verifier)

	// Refresh tokens and sessions from before the reset are dead.
	if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("refresh token from before the reset: %v, want invalid_grant", err)
	}
	if p := authorize(b1); p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Sign in</h1>") {
		t.Fatalf("SSO session from before the reset still signs in: %d", p.status)
	}
	if w.countAudit(t, w.a.id, "passwordReset", "") != 1 {
		t.Fatalf("no passwordReset audit event")
	}

	t.Run("unknown address", func(t *testing.T) {
		nobody := "nobody-" + suffix() + "@" + strings.SplitN(w.a.user, "@", 2)[1]
		bn, bk := w.browserFor(t), w.browserFor(t)
		pn, _ := resetPage(t, bn, c)
		pk, _ := resetPage(t, bk, c)
		pn, pk = submitEmail(bn, pn, nobody), submitEmail(bk, pk, w.a.user)
		samePage(t, "reset code page", pn, nobody, pk, w.a.user)
		samePage(t, "reset wrong code", bn.submit(pn, map[string]string{"code": "00000000"}), nobody,
			bk.submit(pk, map[string]string{"code": "00000000"}), w.a.user)
		if m := w.mailsTo(nobody); len(m) != 0 {
			t.Fatalf("mail to an unknown address: %+v", m)
		}
	})

	t.Run("SSPR off", func(t *testing.T) {
		b := w.browserFor(t)
		w.noSSPRWeb.t = t
		defer func() { w.noSSPRWeb.t = w.t }()
		login := b.get(w.noSSPRWeb.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if reForgot.MatchString(login.body) {
			t.Fatal("the sign-in page offers password reset with SSPR off")
		}
		p, _ := resetPage(t, b, w.noSSPRWeb)
		wantRefusal(t, submitEmail(b, p, w.frank), http.StatusForbidden, "ssprDisabled")
		if m := w.mailsTo(w.frank); len(m) != 0 {
			t.Fatalf("mail sent with SSPR off: %+v", m)
		}
		if w.countAudit(t, w.noSSPR, "passwordResetAttempt", "ssprDisabled") != 1 {
			t.Fatalf("no ssprDisabled refusal in the audit log: %+v", w.audit(t, w.noSSPR))
		}
	})
}

// TestPasswordResetEndsCommonIssuerTokens: a workforce member who signed in
// through the common issuer holds a refresh token and an SSO session kept
// under the common issuer; resetting the password must end them too.
func TestPasswordResetEndsCommonIssuerTokens(t *testing.T) {
	w := startSignUpWorld(t)
	f := w.commonFixture(w.bob)
	b1 := w.browserFor(t)
	code, verifier, _ := w.mt.login(b1, f)
	tok, iss, claims := exchangeClaims(t, w.mt, code, verifier)
	if iss != w.base+"/common/v2.0" || claims["tid"] != w.wfJ {
		t.Fatalf("sign-in at common: iss %s claims %v", iss, claims)
	}

	b2 := w.browserFor(t)
	p, _ := resetPage(t, b2, w.mt)
	p = submitEmail(b2, p, w.bob)
	p = b2.submit(p, map[string]string{"code": w.codeTo(w.bob)})
	newPassword := "a brand new passphrase " + suffix()
	if p = b2.submit(p, map[string]string{"password": newPassword}); !strings.Contains(p.body, "<h1>Sign in</h1>") {
		t.Fatalf("reset at the common issuer: %d %s", p.status, p.body)
	}
	f.password = newPassword
	code, verifier, _ = w.mt.login(w.browserFor(t), f) // the new password works at common
	exchangeClaims(t, w.mt, code, verifier)

	if _, err := w.mt.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Errorf("refresh token issued by the common issuer before the reset still works: %v", err)
	}
	p = b1.get(w.mt.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Sign in</h1>") {
		t.Errorf("SSO session at the common issuer from before the reset still signs in: %d", p.status)
	}
}

// TestSignUpJoinNewDomainConcurrently: people of one new domain signing up
// at the same moment end up in one unmanaged tenant for the domain, and
// leave no other tenant behind.
func TestSignUpJoinNewDomainConcurrently(t *testing.T) {
	w := startSignUpWorld(t)
	domain := "race-" + w.sfx + ".example"
	const n = 8
	type pending struct {
		b              *browser
		action         string
		fields         url.Values
		status         int
		location, body string
	}
	ps := make([]*pending, n)
	for i := range ps {
		// Each browser has its own connection, warm when the race starts.
		b := w.browserFrom(t, "127.0.0.1")
		start, _ := signUpPage(t, b, w.mt)
		addr := fmt.Sprintf("user%d@%s", i, domain)
		p := b.submit(submitEmail(b, start, addr), map[string]string{"code": w.codeTo(addr)})
		action, fields := p.form(t)
		fields.Set("displayName", "User")
		fields.Set("givenName", "User")
		fields.Set("surname", "Racer")
		fields.Set("password", "a long and unusual passphrase "+suffix())
		ps[i] = &pending{b: b, action: action, fields: fields}
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			<-gate
			var err error
			p.status, p.location, p.body, err = rawPost(p.b, p.action, p.fields)
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(gate)
	wg.Wait()
	for _, p := range ps {
		if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/authorize/callback?") && !strings.Contains(p.location, "/consent?") {
			t.Errorf("concurrent join: %d %s", p.status, reErrCode.FindString(p.body))
		}
	}
	ctx := t.Context()
	home, err := w.app.store.TenantIDByDomain(ctx, domain)
	if err != nil {
		t.Fatal(err)
	}
	if us, _ := w.app.store.ListUsers(ctx, home); len(us) != n {
		t.Errorf("%d users in the domain's tenant, want %d", len(us), n)
	}
	ts, err := w.app.store.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range ts {
		if x.DisplayName == domain {
			names = append(names, x.Name)
		}
	}
	if len(names) != 1 {
		t.Errorf("%d tenants created for %s (%v), want 1: the others are orphans without domain or users, squatting names", len(names), domain, names)
	}
}

// TestSignUpPolicyChangedMidFlow: a switch turned off while a flow is open
// (up to 30 minutes) still stops the account being created.
func TestSignUpPolicyChangedMidFlow(t *testing.T) {
	w := startSignUpWorld(t)
	ctx := t.Context()
	appA := w.rp(w.a, true, oidc.ScopeOpenID)
	// profilePage runs a flow up to the last page.
	profilePage := func(t *testing.T, c *client, addr string) (*browser, page) {
		b := w.browserFor(t)
		start, _ := signUpPage(t, b, c)
		p := b.submit(submitEmail(b, start, addr), map[string]string{"code": w.codeTo(addr)})
		if !strings.Contains(p.body, "Finish creating your account") {
			t.Fatalf("profile page: %d %s", p.status, p.body)
		}
		return b, p
	}
	setPolicy := func(t *testing.T, tenantID string, fn func(*storage.AuthorizationPolicy)) {
		if _, err := w.app.store.UpdateTenant(ctx, tenantID, func(x *storage.Tenant) error { fn(&x.Policy); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	noUser := func(t *testing.T, tenantID, addr string) {
		if _, err := w.app.store.UserIDByMail(ctx, tenantID, addr); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("account created: %v", err)
		}
	}

	t.Run("S off", func(t *testing.T) {
		addr := "s-off-" + w.sfx + "@example.org"
		b, p := profilePage(t, appA, addr)
		setPolicy(t, w.a.id, func(p *storage.AuthorizationPolicy) { p.AllowedToSignUpEmailBasedSubscriptions = false })
		defer setPolicy(t, w.a.id, func(p *storage.AuthorizationPolicy) { p.AllowedToSignUpEmailBasedSubscriptions = true })
		wantRefusal(t, submitProfile(b, p), http.StatusForbidden, "signUpDisabled")
		noUser(t, w.a.id, addr)
	})
	t.Run("J off", func(t *testing.T) {
		addr := "j-off@" + w.dJ
		b, p := profilePage(t, w.mt, addr)
		setPolicy(t, w.wfJ, func(p *storage.AuthorizationPolicy) { p.AllowEmailVerifiedUsersToJoinOrganization = false })
		defer setPolicy(t, w.wfJ, func(p *storage.AuthorizationPolicy) { p.AllowEmailVerifiedUsersToJoinOrganization = true })
		wantRefusal(t, submitProfile(b, p), http.StatusForbidden, "emailVerifiedJoinDisabled")
		noUser(t, w.wfJ, addr)
	})
	t.Run("app sign-up off", func(t *testing.T) {
		addr := "app-off-" + w.sfx + "@example.org"
		b, p := profilePage(t, appA, addr)
		set := func(on bool) {
			if _, err := w.app.store.UpdateApp(ctx, w.a.id, w.a.webID, func(a *storage.App) error { a.SignUpEnabled = on; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		set(false)
		defer set(true)
		wantRefusal(t, submitProfile(b, p), http.StatusForbidden, "appSignUpDisabled")
		noUser(t, w.a.id, addr)
	})
}
