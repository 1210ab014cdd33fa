package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/storage/faultproxy"
	"github.com/foyer-id/foyer/storage/redisstore"
)

// frozenDeadline is the request deadline of these tests: short, yet long
// enough for a sign-in's argon2id under the race detector on a busy
// machine, since the same server must work before and after the freeze.
const frozenDeadline = time.Second

// frozenClientTimeouts makes go-redis's own timeouts far longer than any
// test: with Redis frozen, only the request's deadline can end a call, so a
// request answered at all shows the deadline reached Redis.
var frozenClientTimeouts = url.Values{
	"dial_timeout": {"1m"}, "read_timeout": {"1m"}, "write_timeout": {"1m"}, "pool_timeout": {"1m"},
}

// probe is one kind of request a frozen Redis must not leave unanswered.
type probe struct {
	name string
	// cached kinds may be answered from memory (200) instead of 503.
	cached bool
	client *http.Client
	req    func() *http.Request
}

type answer struct {
	probe    string
	status   int
	retry    string
	err      error
	duration time.Duration
}

func (p probe) do() answer {
	start := time.Now()
	resp, err := p.client.Do(p.req())
	a := answer{probe: p.name, err: err}
	if err == nil {
		_, a.err = io.Copy(io.Discard, resp.Body) // a partial body fails here
		resp.Body.Close()
		a.status, a.retry = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	a.duration = time.Since(start)
	return a
}

// frozenWorld is a Foyer whose Redis sits behind a fault proxy, with one
// request of every kind ready to send.
type frozenWorld struct {
	env    *testEnv
	proxy  *faultproxy.Proxy
	probes []probe
}

func startFrozenWorld(t *testing.T) *frozenWorld {
	proxy, toProxy := storeBehindFaultProxy(t, frozenClientTimeouts)
	env := startEnv(t, toProxy, func(c *Config) { c.RequestTimeout = frozenDeadline })
	w := &frozenWorld{env: env, proxy: proxy}
	f := env.a
	issuer := f.issuer(env.base)

	// Tokens and pages obtained while Redis answers.
	rp := env.rp(f, true, "openid", "profile", "email", "offline_access", "User.Read")
	tok := tokensRetrying(t, env, rp, f)
	rt, _ := tok.Extra("refresh_token").(string)
	third := env.rp(f, false, "openid", "User.ReadWrite")
	third.conf.ClientID = f.spaID + "-3p"
	tok3 := tokensRetrying(t, env, third, f)
	code2, verifier2 := codeRetrying(t, env, rp, f) // for an exchange during the freeze
	signIn := env.browser()
	signInPage := signIn.get(rp.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if signInPage.status != http.StatusOK || !strings.Contains(signInPage.body, `name="password"`) {
		t.Fatalf("sign-in page: %d", signInPage.status)
	}
	action, fields := signInPage.form(t)
	fields.Set("email", f.user)
	fields.Set("password", f.password)
	signUpPage := env.browser().get(rp.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "create")))
	if signUpPage.status != http.StatusOK {
		t.Fatalf("sign-up page: %d", signUpPage.status)
	}

	form, bearer := w.form, func(method, u, token, body string) func() *http.Request {
		if body == "" {
			return w.bearer(method, u, token)
		}
		return func() *http.Request {
			r := w.bearer(method, u, token)()
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
			r.Header.Set("Content-Type", "application/json")
			return r
		}
	}
	get := func(u string) func() *http.Request {
		return func() *http.Request { r, _ := http.NewRequest(http.MethodGet, u, nil); return r }
	}
	// A request not answered in 30 s (30 deadlines) counts as never
	// answered.
	c := noHang(env.client)
	signIn.client = noHang(signIn.client)
	w.probes = []probe{
		{name: "token (refresh)", client: c, req: form(issuer+"/oauth/token",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)},
		{name: "token (code)", client: c, req: form(issuer+"/oauth/token", url.Values{"grant_type": {"authorization_code"},
			"code": {code2}, "code_verifier": {verifier2}, "redirect_uri": {f.redirect}}, true)},
		{name: "userinfo", client: c, req: bearer(http.MethodGet, issuer+"/userinfo", tok.AccessToken, "")},
		{name: "introspection", client: c, req: form(issuer+"/oauth/introspect", url.Values{"token": {tok.AccessToken}}, true)},
		{name: "GET /v1.0/me", client: c, req: bearer(http.MethodGet, env.base+"/v1.0/me", tok.AccessToken, "")},
		{name: "PATCH /v1.0/me", client: c, req: bearer(http.MethodPatch, env.base+"/v1.0/me", tok3.AccessToken, `{"city":"Oslo"}`)},
		{name: "authorize", client: c, req: get(rp.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))},
		{name: "sign-in page", client: c, req: get(signInPage.url.String())},
		{name: "sign-in", client: signIn.client, req: form(action, fields, false)},
		{name: "sign-up page", client: c, req: get(signUpPage.url.String())},
		{name: "discovery", cached: true, client: c, req: get(issuer + "/.well-known/openid-configuration")},
		{name: "JWKS", cached: true, client: c, req: get(issuer + "/keys")},
		{name: "readyz", client: c, req: get(env.base + "/readyz")},
	}
	return w
}

// served reports a success or a redirect.
func served(status int) bool { return status >= 200 && status < 400 }

// form returns a form POST to u, with the confidential app's credentials
// when basic.
func (w *frozenWorld) form(u string, v url.Values, basic bool) func() *http.Request {
	return func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			r.SetBasicAuth(w.env.a.webID, w.env.a.webSecret)
		}
		return r
	}
}

// bearer returns a request with an access token.
func (w *frozenWorld) bearer(method, u, token string) func() *http.Request {
	return func() *http.Request {
		r, _ := http.NewRequest(method, u, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
}

// retrying sends p until it is answered other than 503, at most 5 times:
// on a loaded machine a request may miss the tests' short deadline, and a
// client retries a 503.
func retrying(p probe) answer {
	var a answer
	for range 5 {
		if a = p.do(); a.err != nil || a.status != http.StatusServiceUnavailable {
			break
		}
	}
	return a
}

// unavailable reports an OAuth error that was a 503.
func unavailable(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusServiceUnavailable
}

// codeRetrying signs in through a new browser and returns an authorization
// code and its PKCE verifier, starting over when a step answers 503 (at
// most 5 times).
func codeRetrying(t *testing.T, env *testEnv, c *client, f tenantFixture) (code, verifier string) {
	t.Helper()
	for range 5 {
		b := env.browser()
		verifier = oauth2.GenerateVerifier()
		p := b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		if p.status == http.StatusOK && strings.Contains(p.body, `name="password"`) {
			p = b.signIn(p, f.user, f.password)
		}
		if p = b.consent(p); p.status == http.StatusServiceUnavailable {
			continue
		}
		q := redirected(t, p)
		if q.Get("code") == "" {
			t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
		}
		return q.Get("code"), verifier
	}
	t.Fatal("sign-in answered 503 five times")
	return "", ""
}

// tokensRetrying signs in and exchanges the code, starting over when a
// step answers 503 (at most 5 times): an exchange answered 503 may have
// consumed its code.
func tokensRetrying(t *testing.T, env *testEnv, c *client, f tenantFixture) *oauth2.Token {
	t.Helper()
	for range 5 {
		code, verifier := codeRetrying(t, env, c, f)
		tok, err := c.exchange(code, verifier)
		if err == nil {
			return tok
		}
		if !unavailable(err) {
			t.Fatalf("exchange: %v", err)
		}
	}
	t.Fatal("the code exchange answered 503 five times")
	return nil
}

// noHang returns a copy of c that gives up on an answer after 30 s.
func noHang(c *http.Client) *http.Client {
	n := *c
	n.Timeout = 30 * time.Second
	return &n
}

// all sends n requests at once, cycling through the probes, and returns
// every answer.
func (w *frozenWorld) all(n int, probes []probe) []answer {
	out := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = probes[i%len(probes)].do() })
	}
	wg.Wait()
	return out
}

// wantUnavailable checks that every answer came, whole, and was 503 with
// Retry-After (or 200 for a kind served from memory).
func wantUnavailable(t *testing.T, answers []answer, probes []probe) {
	t.Helper()
	cached := map[string]bool{}
	for _, p := range probes {
		cached[p.name] = p.cached
	}
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("%s: no answer: %v", a.probe, a.err)
		case a.status == http.StatusServiceUnavailable && a.retry == "":
			t.Errorf("%s: 503 without Retry-After", a.probe)
		case a.status == http.StatusOK && cached[a.probe]:
		case a.status != http.StatusServiceUnavailable:
			t.Errorf("%s: %d, want 503", a.probe, a.status)
		}
	}
}

// logDurations reports the slowest and median answer (figures, not
// verdicts).
func logDurations(t *testing.T, what string, answers []answer) {
	d := make([]time.Duration, len(answers))
	for i, a := range answers {
		d[i] = a.duration
	}
	slices.Sort(d)
	statuses := map[string]map[int]int{}
	for _, a := range answers {
		if statuses[a.probe] == nil {
			statuses[a.probe] = map[int]int{}
		}
		statuses[a.probe][a.status]++
	}
	t.Logf("%s: %d answers, median %v, slowest %v (deadline %v); statuses by kind %v",
		what, len(d), d[len(d)/2], d[len(d)-1], frozenDeadline, statuses)
}

// settled is what must return to its baseline after a fault: Foyer's
// goroutines (the test proxy's two per connection left out) and the Redis
// client's connections.
type settled struct {
	goroutines int
	pool       redisstore.PoolStats
	proxied    int
}

func (w *frozenWorld) measure() settled {
	w.env.client.CloseIdleConnections()
	n := w.proxy.Conns()
	return settled{goroutines: runtime.NumGoroutine() - 2*n, pool: w.env.app.store.PoolStats(), proxied: n}
}

// TestFrozenRedisAnswersEveryRequest freezes all traffic to Redis: every
// kind of request is answered, whole, with 503 and Retry-After (discovery
// and JWKS may come from memory), alone and 100 at once, within the
// request deadline; Foyer's own go-redis timeouts are set to a minute, so
// only the deadline can end the calls. After the thaw everything works
// again and no goroutine or connection is left behind.
func TestFrozenRedisAnswersEveryRequest(t *testing.T) {
	w := startFrozenWorld(t)
	env := w.env

	// Baseline: every kind answers while Redis does; then a burst as large
	// as the frozen one warms the pool (on a loaded machine some of it may
	// miss the deadline, which is a 503 too).
	var warm []probe
	for _, p := range w.probes {
		if strings.HasPrefix(p.name, "token") || p.name == "sign-in" { // single-use or rate-counted
			continue
		}
		warm = append(warm, p)
		if a := retrying(p); a.err != nil || !served(a.status) {
			t.Fatalf("before the freeze, %s: %d %v", a.probe, a.status, a.err)
		}
	}
	for _, a := range w.all(100, warm) {
		if a.err != nil || (!served(a.status) && (a.status != http.StatusServiceUnavailable || a.retry == "")) {
			t.Fatalf("before the freeze, %s: %d %v", a.probe, a.status, a.err)
		}
	}
	base := waitSettled(t, w, nil)
	t.Logf("baseline: %d goroutines, pool %+v", base.goroutines, base.pool)

	w.proxy.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			w.proxy.Thaw()
		}
	}()
	t.Run("each kind alone", func(t *testing.T) {
		var answers []answer
		for _, p := range w.probes {
			answers = append(answers, p.do())
		}
		wantUnavailable(t, answers, w.probes)
		logDurations(t, "one by one", answers)
	})
	t.Run("100 at once", func(t *testing.T) {
		answers := w.all(100, w.probes)
		if len(answers) != 100 {
			t.Fatalf("%d answers", len(answers))
		}
		wantUnavailable(t, answers, w.probes)
		logDurations(t, "100 concurrent", answers)
	})
	w.proxy.Thaw()
	thawed = true

	// Redis answers again: /readyz says so, and a whole sign-in, token,
	// userinfo, Graph and introspection round works.
	ready := false
	for range 100 {
		a := w.probes[len(w.probes)-1].do()
		if ready = a.err == nil && a.status == http.StatusOK; ready {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ready {
		t.Fatal("/readyz never answered 200 after the thaw")
	}
	rp := env.rp(env.a, true, "openid", "profile", "offline_access", "User.Read")
	tok := tokensRetrying(t, env, rp, env.a)
	for _, p := range []probe{
		{name: "userinfo", req: w.bearer(http.MethodGet, env.a.issuer(env.base)+"/userinfo", tok.AccessToken)},
		{name: "introspection", req: w.form(env.a.issuer(env.base)+"/oauth/introspect", url.Values{"token": {tok.AccessToken}}, true)},
		{name: "GET /v1.0/me", req: w.bearer(http.MethodGet, env.base+"/v1.0/me", tok.AccessToken)},
	} {
		p.client = noHang(env.client)
		if a := retrying(p); a.err != nil || a.status != http.StatusOK {
			t.Fatalf("%s after the thaw: %d %v", p.name, a.status, a.err)
		}
	}
	refreshed := false
	for range 5 { // a refresh answered 503 may have rotated the token: start over
		rt, _ := tokensRetrying(t, env, rp, env.a).Extra("refresh_token").(string)
		_, err := rp.refresh(rt)
		if refreshed = err == nil; refreshed || !unavailable(err) {
			break
		}
	}
	if !refreshed {
		t.Fatal("refresh after the thaw failed")
	}

	after := waitSettled(t, w, &base)
	t.Logf("after the thaw: %d goroutines, pool %+v", after.goroutines, after.pool)
}

// waitSettled polls until no Redis connection is in use or awaited, every
// proxied connection is one of the pool's, and, given a baseline, Foyer's
// goroutines and connections are back to it; it fails the test after 20 s.
func waitSettled(t *testing.T, w *frozenWorld, base *settled) settled {
	t.Helper()
	var s settled
	var why string
	for range 200 {
		s = w.measure()
		switch p := s.pool; {
		case p.IdleConns != p.TotalConns || p.PendingRequests != 0:
			why = fmt.Sprintf("connections in use or awaited: %+v", p)
		case s.proxied != p.TotalConns:
			why = fmt.Sprintf("%d proxied connections, the pool has %d", s.proxied, p.TotalConns)
		case base != nil && p.TotalConns > base.pool.TotalConns:
			why = fmt.Sprintf("%d connections, %d before", p.TotalConns, base.pool.TotalConns)
		case base != nil && s.goroutines > base.goroutines:
			why = fmt.Sprintf("%d goroutines, %d before", s.goroutines, base.goroutines)
		default:
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not settled after 20 s: %s", why)
	return s
}
