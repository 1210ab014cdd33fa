package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/storage/faultproxy"
	"github.com/foyer-id/foyer/storage/redisstore"
)

// testEnv is a listening Foyer over TLS with two tenants, each with a
// confidential web app, a public SPA and a user, provisioned from a YAML
// file through the real --config path. It runs on the embedded Redis, or
// on FOYER_TEST_REDIS_URL when set (names carry a random suffix so runs
// never collide).
type testEnv struct {
	t      testing.TB
	base   string
	app    *app
	srv    *httptest.Server
	client *http.Client // trusts the server's certificate; no cookies
	a, b   tenantFixture
}

type tenantFixture struct {
	name, id         string
	webID, webSecret string
	spaID            string
	redirect         string
	user, password   string
}

func (f tenantFixture) issuer(base string) string { return base + "/" + f.id + "/v2.0" }

func suffix() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func startEnv(t testing.TB, opts ...func(*Config)) *testEnv {
	t.Helper()
	return startEnvWith(t, "", opts...)
}

// startEnvWith is startEnv with more tenants: extra is YAML list items
// appended under "tenants:" (use suffix() in names to keep runs apart).
func startEnvWith(t testing.TB, extra string, opts ...func(*Config)) *testEnv {
	t.Helper()
	sfx := suffix()
	mk := func(n string) tenantFixture {
		return tenantFixture{
			name: n + "-" + sfx, webID: n + "-web-" + sfx, webSecret: "s3cret-" + sfx + "-0123456789abcdefghijklmnopqrstuv",
			spaID: n + "-spa-" + sfx, redirect: "https://app.example/" + n + "/callback",
			user: "alice@" + n + sfx + ".example", password: "correct horse battery " + sfx,
		}
	}
	env := &testEnv{t: t, a: mk("a"), b: mk("b")}
	for _, f := range []tenantFixture{env.a, env.b} {
		t.Setenv("SECRET_"+strings.ToUpper(f.name[:1]), f.webSecret)
		t.Setenv("PASSWORD_"+strings.ToUpper(f.name[:1]), f.password)
	}
	doc := ""
	for _, f := range []tenantFixture{env.a, env.b} {
		up := strings.ToUpper(f.name[:1])
		doc += fmt.Sprintf(`
  - name: %s
    displayName: Tenant %s
    kind: external
    domains: [%s]
    apps:
      - clientId: %s
        displayName: Web %s
        redirectUris: [%s]
        postLogoutRedirectUris: [https://app.example/%s/bye]
        scopes: [openid, profile, email, offline_access, User.Read]
        signUpEnabled: true
        preConsented: true
        clientSecretEnv: SECRET_%s
      - clientId: %s
        displayName: SPA %s
        redirectUris: [%s]
        scopes: [openid, profile, email, offline_access, User.Read]
        preConsented: true
      - clientId: %s-3p
        displayName: Third-party app %s
        redirectUris: [%s]
        scopes: [openid, profile, email, offline_access, User.Read, User.ReadWrite]
    users:
      - userPrincipalName: %s
        mail: %s
        displayName: Alice %s
        givenName: Alice
        surname: Liddell
        passwordEnv: PASSWORD_%s
`, f.name, up, strings.SplitN(f.user, "@", 2)[1], f.webID, up, f.redirect, f.name[:1], up, f.spaID, up, f.redirect, f.spaID, up, f.redirect, f.user, f.user, up, up)
	}
	path := filepath.Join(t.TempDir(), "foyer.yaml")
	if err := os.WriteFile(path, []byte("tenants:"+doc+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.base = "https://" + ln.Addr().String()
	cfg := testConfig(t)
	cfg.PublicURL = env.base
	cfg.ConfigFile = path
	for _, o := range opts {
		o(&cfg)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	env.app, err = newApp(context.Background(), cfg, log, io.Discard)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	env.srv = httptest.NewUnstartedServer(env.app.handler)
	env.srv.Listener.Close()
	env.srv.Listener = ln
	env.srv.StartTLS()
	t.Cleanup(func() { env.srv.Close(); env.app.Close() })
	env.client = env.srv.Client()
	env.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, f := range []*tenantFixture{&env.a, &env.b} {
		id, err := env.app.store.TenantIDByName(context.Background(), f.name)
		if err != nil {
			t.Fatal(err)
		}
		f.id = id
	}
	return env
}

func TestMain(m *testing.M) {
	flag.Parse()
	// zitadel logs protocol errors through slog's default logger.
	level := slog.LevelError + 1
	if testing.Verbose() {
		level = slog.LevelWarn
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	os.Exit(m.Run())
}

// testConfig is the configuration tests start from: embedded Redis unless
// FOYER_TEST_REDIS_URL is set, a fixed test KEK.
func testConfig(t testing.TB) Config {
	t.Helper()
	cfg, err := loadConfig(nil, func(k string) string {
		switch k {
		case "FOYER_REDIS_URL":
			return os.Getenv("FOYER_TEST_REDIS_URL")
		case "FOYER_KEK":
			return testKEKText // 32 bytes, base64url
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.keepMail = true
	cfg.maxStartsPerIP = 1 << 40 // every test browser is 127.0.0.1; TestSignUpMailBombing restores the default
	return cfg
}

// ctx returns a context whose HTTP client trusts the test server, for
// go-oidc and oauth2.
func (e *testEnv) ctx() context.Context {
	c := e.srv.Client() // follows redirects, trusts the certificate
	return oidc.ClientContext(context.WithValue(context.Background(), oauth2.HTTPClient, c), c)
}

// browser is a user agent with a cookie jar that stops at the app's
// redirect URI.
type browser struct {
	t      testing.TB
	client *http.Client
}

func (e *testEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "app.example" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &browser{t: e.t, client: &c}
}

var (
	reAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	reCSRF   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	reHidden = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
}

func (p page) form(t testing.TB) (action string, fields url.Values) {
	t.Helper()
	m := reAction.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on page %s (%d):\n%s", p.url, p.status, p.body)
	}
	fields = url.Values{}
	for _, h := range reHidden.FindAllStringSubmatch(p.body, -1) {
		fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), fields
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, v url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn fills the sign-in form on p and returns the page after it.
func (b *browser) signIn(p page, email, password string) page {
	b.t.Helper()
	action, f := p.form(b.t)
	f.Set("email", email)
	f.Set("password", password)
	return b.post(action, f)
}

// consent accepts the consent page when p is one (as the user would), and
// returns the page after it; any other page is returned as is.
func (b *browser) consent(p page) page {
	b.t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `value="accept"`) {
		return p
	}
	return b.submit(p, map[string]string{"decision": "accept"})
}

// redirected returns the query of a redirect to the app.
func redirected(t testing.TB, p page) url.Values {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect to the app, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil || loc.Host != "app.example" {
		t.Fatalf("redirect to %q, want the app", p.header.Get("Location"))
	}
	return loc.Query()
}

var (
	reForm  = regexp.MustCompile(`(?s)<form method="post"[^>]*>(.*?)</form>`)
	reInput = regexp.MustCompile(`<input (?:type="hidden" )?(?:id="[^"]*" )?name="([^"]+)"(?: type="[^"]*")? value="([^"]*)"`)
)

// storeBehindFaultProxy starts a fault-injecting proxy (storage/faultproxy)
// in front of the test's Redis, the server of FOYER_TEST_REDIS_URL or else
// an embedded server started for the test, and returns it with the startEnv
// option that points Foyer at the proxy. query is added to the Redis URL
// (go-redis client options such as read_timeout=1m).
func storeBehindFaultProxy(t testing.TB, query url.Values) (*faultproxy.Proxy, func(*Config)) {
	t.Helper()
	u := &url.URL{Scheme: "redis"}
	if raw := os.Getenv("FOYER_TEST_REDIS_URL"); raw != "" {
		var err error
		if u, err = url.Parse(raw); err != nil {
			t.Fatalf("FOYER_TEST_REDIS_URL: %v", err)
		}
	} else {
		e, err := redisstore.NewEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		u.Host = e.Server.Addr()
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	q := u.Query()
	for k, v := range query {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return p, func(c *Config) { c.RedisURL = u.String() }
}
