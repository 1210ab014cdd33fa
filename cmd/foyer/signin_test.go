package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// loginPage opens the sign-in page of a fresh authorization request.
func (e *testEnv) loginPage(b *browser, f tenantFixture) page {
	e.t.Helper()
	p := b.get(e.authorizeURL(f, goodAuthorize(f)))
	if p.status != http.StatusOK {
		e.t.Fatalf("sign-in page: %d %s", p.status, p.body)
	}
	return p
}

func TestSignInPageProtections(t *testing.T) {
	env := startEnv(t)
	b := env.browser()
	p := env.loginPage(b, env.a)
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
		p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers: %v", p.header)
	}
	for _, l := range []string{`<label for="email">`, `<label for="password">`, `id="email"`, `id="password"`} {
		if !strings.Contains(p.body, l) {
			t.Fatalf("page lacks %s", l)
		}
	}
	action, f := p.form(t)
	f.Set("email", env.a.user)
	f.Set("password", env.a.password)

	t.Run("no CSRF token", func(t *testing.T) {
		g := url.Values{"email": {env.a.user}, "password": {env.a.password}}
		if got := b.post(action, g); got.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", got.status)
		}
	})
	t.Run("token from another browser", func(t *testing.T) {
		other := env.browser()
		env.loginPage(other, env.a) // sets its own CSRF cookie
		if got := other.post(action, f); got.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", got.status)
		}
	})
	t.Run("oversized form", func(t *testing.T) {
		g := url.Values{"email": {strings.Repeat("a", 70<<10)}}
		if got := b.post(action, g); got.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", got.status)
		}
	})
	t.Run("session cookie", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(action)
		for _, c := range b.client.Jar.Cookies(u) {
			req.AddCookie(c)
		}
		resp, err := env.client.Do(req) // does not follow the redirect
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var sess *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "__Host-foyer-"+env.a.id {
				sess = c
			}
		}
		if sess == nil {
			t.Fatal("no __Host- session cookie set")
		}
		if !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Domain != "" {
			t.Fatalf("session cookie attributes: %+v", sess)
		}
	})
}

var reVolatile = regexp.MustCompile(`(value|action|href)="[^"]*"`)

func TestSignInDoesNotRevealAccounts(t *testing.T) {
	env := startEnv(t)
	try := func(email, pw string) page {
		b := env.browser()
		return b.signIn(env.loginPage(b, env.a), email, pw)
	}
	wrong := try(env.a.user, "wrong password "+suffix())
	unknown := try("nobody-"+suffix()+"@"+strings.SplitN(env.a.user, "@", 2)[1], "wrong password "+suffix())
	if wrong.status != unknown.status || wrong.status != http.StatusOK {
		t.Fatalf("status: wrong password %d, unknown email %d", wrong.status, unknown.status)
	}
	if a, b := reVolatile.ReplaceAllString(wrong.body, ""), reVolatile.ReplaceAllString(unknown.body, ""); a != b {
		t.Fatalf("pages differ:\n%s\n---\n%s", a, b)
	}
	if !strings.Contains(wrong.body, "incorrect") {
		t.Fatalf("no error shown:\n%s", wrong.body)
	}
}

func TestSignInLockout(t *testing.T) {
	env := startEnv(t, longLocks)
	b := env.browser()
	var last page
	for i := 0; i < 6; i++ {
		last = b.signIn(env.loginPage(b, env.a), env.a.user, "wrong password "+suffix())
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("6th failure: %d Retry-After %q, want 429", last.status, last.header.Get("Retry-After"))
	}
	// While locked even the right password is refused, for any browser.
	other := env.browser()
	if p := other.signIn(env.loginPage(other, env.a), env.a.user, env.a.password); p.status != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: %d", p.status)
	}
	// The lock is keyed by the address, so an unknown address locks alike.
	nobody := "nobody-" + suffix() + "@example.org"
	for i := 0; i < 6; i++ {
		last = b.signIn(env.loginPage(b, env.a), nobody, "wrong password")
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("unknown address after 6 failures: %d", last.status)
	}
}

func TestRedisDownAnswers503(t *testing.T) {
	env := startEnv(t, func(c *Config) { c.RedisURL = "" }) // embedded, so the test can stop it
	c := env.rp(env.a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	code, verifier, _ := c.login(env.browser(), env.a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	code2, verifier2, _ := c.login(env.browser(), env.a)
	env.app.stopRedis()
	time.Sleep(1100 * time.Millisecond) // past the tenant cache

	check := func(name string, resp *http.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer resp.Body.Close()
		var buf strings.Builder
		_, _ = new(strings.Builder), resp.Write
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		buf.Write(b[:n])
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: %d %s, want 503 with Retry-After", name, resp.StatusCode, buf.String())
		}
		if strings.Contains(buf.String(), "access_token") || strings.Contains(buf.String(), "id_token") {
			t.Fatalf("%s leaked a token: %s", name, buf.String())
		}
	}
	form := func(v url.Values) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, env.a.issuer(env.base)+"/oauth/token", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(env.a.webID, env.a.webSecret)
		return req
	}
	resp, err := env.client.Do(form(url.Values{"grant_type": {"authorization_code"}, "code": {code2}, "code_verifier": {verifier2}, "redirect_uri": {env.a.redirect}}))
	check("code exchange", resp, err)
	resp, err = env.client.Do(form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
	check("refresh", resp, err)
	resp, err = env.client.Get(env.authorizeURL(env.a, goodAuthorize(env.a)))
	check("authorize", resp, err)
	resp, err = env.client.Get(env.base + "/readyz")
	check("readyz", resp, err)
	req, _ := http.NewRequest(http.MethodGet, env.a.issuer(env.base)+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = env.client.Do(req)
	check("userinfo", resp, err)
	if resp, err := env.client.Get(env.base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz must stay up: %v %v", resp, err)
	}
}

func TestTwoInstancesShareOneRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	shared := func(c *Config) { c.RedisURL = "redis://" + mr.Addr() }
	one := startEnv(t, shared)
	// A second instance on the same Redis behind the same public URL, as
	// behind a load balancer.
	two := startEnv(t, shared, func(c *Config) { c.PublicURL = one.base })
	c1 := one.rp(one.a, true, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	code, verifier, _ := c1.login(one.browser(), one.a)
	tok, err := c1.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	at2 := func(rel string) string { return two.base + "/" + one.a.id + "/v2.0" + rel }
	// Both instances publish the same keys.
	resp1, _ := one.client.Get(one.a.issuer(one.base) + "/keys")
	resp2, _ := two.client.Get(at2("/keys"))
	if b1, b2 := readAll(resp1), readAll(resp2); b1 != b2 || !strings.Contains(b1, "RS256") {
		t.Fatalf("JWKS differ between instances:\n%s\n%s", b1, b2)
	}
	// Instance two accepts instance one's access token...
	req, _ := http.NewRequest(http.MethodGet, at2("/userinfo"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := two.client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo at instance two: %v %v", resp, err)
	}
	resp.Body.Close()
	// ...and rotates its refresh token; the replay at instance one fails.
	conf := c1.conf
	conf.Endpoint.TokenURL = at2("/oauth/token")
	tok2, err := conf.TokenSource(two.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh at instance two: %v", err)
	}
	// Once the successor is used, the old token replayed at instance one
	// fails (before, it would be the client repeating a lost refresh).
	if _, err := c1.refresh(tok2.RefreshToken); err != nil {
		t.Fatalf("refresh with the successor at instance one: %v", err)
	}
	if _, err := c1.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("replay at instance one: %v", err)
	}
}

func readAll(r *http.Response) string {
	if r == nil {
		return ""
	}
	defer r.Body.Close()
	var sb strings.Builder
	b := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(b)
		sb.Write(b[:n])
		if err != nil {
			return sb.String()
		}
	}
}

func TestCORSOnlyForRegisteredOrigins(t *testing.T) {
	env := startEnv(t)
	for origin, want := range map[string]string{
		"https://app.example":  "https://app.example",
		"https://evil.example": "",
		"null":                 "",
	} {
		req, _ := http.NewRequest(http.MethodOptions, env.a.issuer(env.base)+"/oauth/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := env.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("origin %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}
