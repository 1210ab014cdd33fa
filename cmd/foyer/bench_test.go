package main

// Benchmarks of the token endpoint (code exchange, refresh grant), discovery
// and JWKS over real HTTP, and of the refresh grant's floor: the two
// signatures it must make plus its Redis round trips, measured in the same
// run. They use FOYER_TEST_REDIS_URL when set, else an embedded server.
// docs/performance.md has the figures; .ci/bench runs them as measured:
//
//	taskset -c 0 redis-server --port 6399 --save '' --appendonly no &
//	go test -c -o /tmp/foyer.test ./cmd/foyer
//	FOYER_TEST_REDIS_URL=redis://127.0.0.1:6399/0 taskset -c 1 /tmp/foyer.test \
//	  -test.run '^$' -test.bench . -test.cpu 1 -test.count 5 -test.benchtime 1s -test.benchmem
//
// The harness of harness_test.go takes a *testing.T, which a benchmark does
// not have, so the environment here is built the same way (newApp over a
// YAML document through the --config path) behind a testing.TB.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/keys"
	"github.com/foyer-id/foyer/storage/redisstore"
	"github.com/foyer-id/foyer/templates"
)

// benchScopes are the scopes of every benchmark grant: the ID token carries
// profile and email claims (one user read) and a refresh token is issued.
const benchScopes = "openid profile email offline_access"

// benchEnv is a listening Foyer on plain HTTP (as `foyer serve` is measured
// against the peers) with one tenant, one confidential app and one user.
type benchEnv struct {
	app      *app
	srv      *http.Server
	base     string // http://127.0.0.1:port
	issuer   string // base/{tenantID}/v2.0
	tenantID string
	clientID string
	secret   string
	redirect string
	user     string
	password string
	client   *http.Client // keep-alive, no cookies, never follows redirects
	close    func()
}

// benchRedisURL returns the Redis the benchmarks use: FOYER_TEST_REDIS_URL,
// or an embedded server started once per process.
func benchRedisURL(tb testing.TB) string {
	benchRedis.once.Do(func() {
		if u := os.Getenv("FOYER_TEST_REDIS_URL"); u != "" {
			benchRedis.url, benchRedis.what = u, "redis at FOYER_TEST_REDIS_URL ("+redactedURL(u)+")"
			return
		}
		e, err := redisstore.NewEmbedded()
		if err != nil {
			benchRedis.err = err
			return
		}
		benchRedis.url = "redis://" + e.Server.Addr() + "/0"
		benchRedis.what = "the embedded in-process Redis (miniredis); set FOYER_TEST_REDIS_URL for a real one"
	})
	if benchRedis.err != nil {
		tb.Fatal(benchRedis.err)
	}
	logOnce(tb, "redis", "benchmarks run against "+benchRedis.what)
	return benchRedis.url
}

var benchRedis struct {
	once      sync.Once
	url, what string
	err       error
}

var logged sync.Map

// logOnce logs msg the first time key is seen in this process.
func logOnce(tb testing.TB, key, msg string) {
	if _, seen := logged.LoadOrStore(key, true); !seen {
		tb.Log(msg)
	}
}

func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(invalid URL)"
}

// startBenchEnv starts Foyer on redisURL and provisions a fresh tenant.
func startBenchEnv(redisURL string) (*benchEnv, error) {
	sfx := suffix()
	e := &benchEnv{
		clientID: "bench-web-" + sfx,
		secret:   "bench-secret-" + sfx + "-0123456789abcdefghijklmnop",
		redirect: "http://localhost/bench/callback",
		user:     "alice@bench" + sfx + ".example",
		password: "correct horse battery " + sfx,
	}
	dir, err := os.MkdirTemp("", "foyer-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // read once, at start
	secretFile, passwordFile := filepath.Join(dir, "secret"), filepath.Join(dir, "password")
	doc := fmt.Sprintf(`tenants:
  - name: bench-%[1]s
    displayName: Bench
    kind: external
    accessTokenAlg: ES256
    apps:
      - clientId: %[2]s
        displayName: Bench web
        redirectUris: [%[3]s]
        scopes: [openid, profile, email, offline_access, User.Read]
        idTokenSigningAlg: %[7]s
        preConsented: true
        clientSecretFile: %[4]s
    users:
      - userPrincipalName: %[5]s
        mail: %[5]s
        displayName: Alice Bench
        givenName: Alice
        surname: Bench
        passwordFile: %[6]s
`, sfx, e.clientID, e.redirect, secretFile, e.user, passwordFile, idTokenAlg())
	cfgPath := filepath.Join(dir, "foyer.yaml")
	for p, v := range map[string]string{secretFile: e.secret, passwordFile: e.password, cfgPath: doc} {
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.base = "http://" + ln.Addr().String()
	cfg, err := loadValidConfig([]string{"--addr", ln.Addr().String(), "--public-url", e.base, "--redis-url", redisURL, "--config", cfgPath},
		func(k string) string {
			if k == "FOYER_KEK" {
				return testKEKText
			}
			return ""
		})
	if err != nil {
		ln.Close()
		return nil, err
	}
	// As `foyer serve` logs, at info, one JSON line per request, to a
	// discarding writer (peers.sh sends server logs to /dev/null).
	log := newLogger(io.Discard, cfg)
	e.app, err = newApp(context.Background(), cfg, log, io.Discard)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// The settings of serve().
	e.srv = &http.Server{
		Handler:           e.app.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go e.srv.Serve(ln)
	e.close = func() { e.srv.Close(); e.app.Close() }
	if e.tenantID, err = e.app.store.TenantIDByName(context.Background(), "bench-"+sfx); err != nil {
		e.close()
		return nil, err
	}
	e.issuer = e.base + "/" + e.tenantID + "/v2.0"
	e.client = &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	return e, nil
}

// sharedEnv is one environment for every benchmark of the process, on the
// benchmark Redis; it lives until the process exits.
func sharedEnv(tb testing.TB) *benchEnv {
	u := benchRedisURL(tb)
	shared.once.Do(func() { shared.env, shared.err = startBenchEnv(u) })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.env
}

var shared struct {
	once sync.Once
	env  *benchEnv
	err  error
}

// browser returns a client with a cookie jar that follows Foyer's redirects
// and stops at the app's redirect URI.
func (e *benchEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport: e.client.Transport,
		Jar:       jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), e.redirect) || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
		Timeout: 30 * time.Second,
	}
}

// code runs the browser through an authorization request (and the sign-in
// form when it has no session) and returns a code and its PKCE verifier.
func (e *benchEnv) code(b *http.Client) (code, verifier string, err error) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {e.clientID}, "redirect_uri": {e.redirect}, "response_type": {"code"},
		"scope": {benchScopes}, "state": {"st"}, "nonce": {rand.Text()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	resp, err := b.Get(e.issuer + "/authorize?" + q.Encode())
	if err != nil {
		return "", "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK { // the sign-in form
		action, fields, err := signInForm(resp.Request.URL, string(body))
		if err != nil {
			return "", "", err
		}
		fields.Set(templates.FieldEmail, e.user)
		fields.Set(templates.FieldPassword, e.password)
		if resp, err = b.PostForm(action, fields); err != nil {
			return "", "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), e.redirect) || loc.Query().Get("code") == "" {
		return "", "", fmt.Errorf("authorization ended at %d %s, Location %q", resp.StatusCode, resp.Request.URL.Path, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), verifier, nil
}

// signInForm returns the absolute action and hidden fields (the CSRF token)
// of the sign-in page, with the harness's patterns.
func signInForm(page *url.URL, body string) (string, url.Values, error) {
	m := reAction.FindStringSubmatch(body)
	if m == nil {
		return "", nil, errors.New("no form on the sign-in page")
	}
	action, err := page.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return "", nil, err
	}
	fields := url.Values{}
	for _, h := range reHidden.FindAllStringSubmatch(body, -1) {
		fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	if fields.Get(templates.FieldCSRF) == "" {
		return "", nil, errors.New("no CSRF token on the sign-in page")
	}
	return action.String(), fields, nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

// token posts a token request with client_secret_basic, as an RP does.
func (e *benchEnv) token(form url.Values) (tokenResponse, error) {
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.clientID), url.QueryEscape(e.secret))
	resp, err := e.client.Do(req)
	if err != nil {
		return tokenResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return tokenResponse{}, err
	}
	var t tokenResponse
	if resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("token endpoint: %d %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return t, err
	}
	if t.AccessToken == "" || t.IDToken == "" || t.RefreshToken == "" {
		return t, fmt.Errorf("token response lacks a token: %s", body)
	}
	return t, nil
}

func (e *benchEnv) exchange(code, verifier string) (tokenResponse, error) {
	return e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {e.redirect}, "code_verifier": {verifier}})
}

func (e *benchEnv) refresh(rt string) (tokenResponse, error) {
	return e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// refreshToken signs in with a new browser and returns a refresh token.
func (e *benchEnv) refreshToken() (string, error) {
	code, verifier, err := e.code(e.browser())
	if err != nil {
		return "", err
	}
	t, err := e.exchange(code, verifier)
	return t.RefreshToken, err
}

func (e *benchEnv) get(tb testing.TB, u string) {
	resp, err := e.client.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
}

// idTokenAlg is the ID-token algorithm of the benchmark app: RS256 (the
// default, OIDC's) unless FOYER_BENCH_ID_TOKEN_ALG=ES256.
func idTokenAlg() string {
	if os.Getenv("FOYER_BENCH_ID_TOKEN_ALG") == keys.ES256 {
		return keys.ES256
	}
	return keys.RS256
}

// BenchmarkCodeExchange: one authorization code exchanged at the token
// endpoint per iteration (client_secret_basic, PKCE, offline_access: an
// access token, an ID token and a refresh token). Codes are made outside the
// timer, in batches, by a browser with an SSO session.
func BenchmarkCodeExchange(b *testing.B) {
	e := sharedEnv(b)
	rts := roundTrips(b).code
	browser := e.browser()
	type prepared struct{ code, verifier string }
	batch := make([]prepared, 0, 256)
	b.ResetTimer()
	for i := 0; i < b.N; {
		b.StopTimer()
		batch = batch[:0]
		for j := 0; j < cap(batch) && i+j < b.N; j++ {
			c, v, err := e.code(browser)
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, prepared{c, v})
		}
		b.StartTimer()
		for _, p := range batch {
			if _, err := e.exchange(p.code, p.verifier); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.ReportMetric(rts, "redis-rt/op") // after ResetTimer, which deletes metrics
}

// BenchmarkRefreshGrant: one refresh grant per iteration, each with the
// refresh token the previous one returned (rotation). Each issues an ES256
// access token and an RS256 ID token (idTokenAlg).
func BenchmarkRefreshGrant(b *testing.B) {
	e := sharedEnv(b)
	rts := roundTrips(b).refresh
	rt, err := e.refreshToken()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		t, err := e.refresh(rt)
		if err != nil {
			b.Fatal(err)
		}
		rt = t.RefreshToken
	}
	b.ReportMetric(rts, "redis-rt/op")
}

// BenchmarkRefreshFloor is the refresh grant's floor: the signatures it
// must make (an ES256 access token and an RS256 ID token, see idTokenAlg)
// with the tenant's keys through go-jose (claims JSON, sign, compact
// serialisation) as Foyer makes them, plus as many sequential Redis round
// trips (plain GETs of a 512-byte value) as the grant makes, on the same
// Redis. "all" is the floor; "needed" is the same with only the round trips
// a refresh grant needs (neededRoundTrips); the others are the parts.
func BenchmarkRefreshFloor(b *testing.B) {
	e := sharedEnv(b)
	ctx := context.Background()
	n := int(roundTrips(b).refresh + 0.5)
	es, err := e.app.keys.Signer(ctx, e.tenantID, keys.ES256)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := e.app.keys.Signer(ctx, e.tenantID, idTokenAlg())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().Unix()
	sub := "8c1f0f7e-5a7b-4c39-9d1b-0f3c3c1c2a11"
	// The claims of Foyer's tokens, as sized by a real grant.
	at := map[string]any{"iss": e.issuer, "sub": sub, "aud": e.base + "/v1.0", "exp": now + 3600, "iat": now, "nbf": now,
		"jti": "0b6f3f0e-0000-4000-8000-00000000000a.Zx3Qm1c0gGZCj4Vt5sS0Ag", "client_id": e.clientID, "azp": e.clientID,
		"scp": benchScopes, "oid": sub, "tid": e.tenantID, "auth_time": now, "ver": "2.0"}
	id := map[string]any{"iss": e.issuer, "sub": sub, "aud": []string{e.clientID}, "exp": now + 3600, "iat": now,
		"auth_time": now, "amr": []string{"pwd"}, "azp": e.clientID, "client_id": e.clientID,
		"at_hash": "Zx3Qm1c0gGZCj4Vt5sS0Ag", "name": "Alice Bench", "given_name": "Alice", "family_name": "Bench",
		"preferred_username": e.user, "email": e.user, "email_verified": false, "oid": sub, "tid": e.tenantID, "ver": "2.0"}
	sign := func(k keys.SigningKey, typ string, claims map[string]any) {
		s, err := k.NewSigner((&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			b.Fatal(err)
		}
		payload, err := json.Marshal(claims)
		if err != nil {
			b.Fatal(err)
		}
		jws, err := s.Sign(payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.CompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
	opts, err := redis.ParseURL(benchRedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	b.Cleanup(func() { rdb.Close() })
	key := "foyer:bench:floor:" + suffix()
	if err := rdb.Set(ctx, key, strings.Repeat("x", 512), time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	get := func() {
		if err := rdb.Get(ctx, key).Err(); err != nil {
			b.Fatal(err)
		}
	}
	logOnce(b, "floor", fmt.Sprintf("refresh floor: ES256 access token + %s ID token + %d Redis round trips", idTokenAlg(), n))
	idPart := idTokenAlg() // the ID token's signature alone, named by its algorithm
	if idPart == keys.ES256 {
		idPart = "ES256-idtoken"
	}
	parts := []struct {
		name string
		op   func()
	}{
		{"all", func() {
			sign(es, "at+jwt", at)
			sign(rs, "JWT", id)
			for range n {
				get()
			}
		}},
		// The round trips a refresh grant needs: the client, the refresh
		// token, its rotation (which checks the grant), the user's claims.
		{"needed", func() {
			sign(es, "at+jwt", at)
			sign(rs, "JWT", id)
			for range neededRoundTrips {
				get()
			}
		}},
		{idPart, func() { sign(rs, "JWT", id) }},
		{"ES256", func() { sign(es, "at+jwt", at) }},
		{"redisGET", get},
	}
	for _, p := range parts {
		b.Run(p.name, func(b *testing.B) {
			p.op() // warm
			b.ResetTimer()
			for range b.N {
				p.op()
			}
			switch p.name {
			case "all":
				b.ReportMetric(float64(n), "redis-rt/op")
			case "needed":
				b.ReportMetric(neededRoundTrips, "redis-rt/op")
			}
		})
	}
}

// neededRoundTrips is what a refresh grant cannot do without: read the
// client, read the refresh token, rotate it (one Lua script, which also
// checks the grant), read the user for the ID token's claims.
const neededRoundTrips = 4

// BenchmarkDiscovery: GET {issuer}/.well-known/openid-configuration.
func BenchmarkDiscovery(b *testing.B) {
	e := sharedEnv(b)
	u := e.issuer + "/.well-known/openid-configuration"
	e.get(b, u)
	b.ResetTimer()
	for range b.N {
		e.get(b, u)
	}
}

// BenchmarkJWKS: GET {issuer}/keys.
func BenchmarkJWKS(b *testing.B) {
	e := sharedEnv(b)
	u := e.issuer + "/keys"
	e.get(b, u)
	b.ResetTimer()
	for range b.N {
		e.get(b, u)
	}
}

// --- Redis round trips per operation ---

// rtCounts is the number of Redis round trips per operation.
type rtCounts struct{ refresh, code float64 }

var rtResult struct {
	once sync.Once
	c    rtCounts
	err  error
}

// roundTrips counts, once per process, the Redis round trips of a code
// exchange and of a refresh grant: a second Foyer runs on a counting TCP
// proxy in front of the benchmark Redis (so the measured server pays no
// proxy hop), and every write go-redis makes while one request is in
// flight is one round trip (a pipeline or MULTI/EXEC is one write). It
// logs which commands they were.
func roundTrips(tb testing.TB) rtCounts {
	u := benchRedisURL(tb)
	rtResult.once.Do(func() { rtResult.c, rtResult.err = countRoundTrips(tb, u) })
	if rtResult.err != nil {
		tb.Fatal(rtResult.err)
	}
	return rtResult.c
}

func countRoundTrips(tb testing.TB, redisURL string) (rtCounts, error) {
	target, err := url.Parse(redisURL)
	if err != nil {
		return rtCounts{}, err
	}
	p, err := startCountingProxy(target.Host)
	if err != nil {
		return rtCounts{}, err
	}
	defer p.close()
	proxied := *target
	proxied.Host = p.addr
	e, err := startBenchEnv(proxied.String())
	if err != nil {
		return rtCounts{}, err
	}
	defer e.close()
	browser := e.browser()
	rt, err := e.refreshToken() // warms connections, caches, scripts
	if err != nil {
		return rtCounts{}, err
	}
	const n = 20
	var c rtCounts
	for _, w := range []struct {
		name string
		dst  *float64
		op   func() error
	}{
		{"refresh grant", &c.refresh, func() error {
			t, err := e.refresh(rt)
			rt = t.RefreshToken
			return err
		}},
		{"code exchange", &c.code, func() error {
			p.counting.Store(false)
			code, verifier, err := e.code(browser)
			p.counting.Store(true)
			if err != nil {
				return err
			}
			_, err = e.exchange(code, verifier)
			return err
		}},
	} {
		if err := w.op(); err != nil { // warm this path
			return c, err
		}
		p.reset()
		p.counting.Store(true)
		for range n {
			if err := w.op(); err != nil {
				return c, err
			}
		}
		p.counting.Store(false)
		total, cmds := p.snapshot()
		*w.dst = float64(total) / n
		logOnce(tb, "rt "+w.name, fmt.Sprintf("%s: %.2f Redis round trips per request: %s", w.name, *w.dst, perOp(cmds, n)))
	}
	return c, nil
}

func perOp(cmds map[string]int, n int) string {
	names := make([]string, 0, len(cmds))
	for k := range cmds {
		names = append(names, k)
	}
	slices.Sort(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.2g", k, float64(cmds[k])/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// countingProxy forwards TCP to Redis and, while counting, counts the
// client's writes and the name of the first command of each.
type countingProxy struct {
	addr     string
	ln       net.Listener
	counting atomic.Bool
	mu       sync.Mutex
	total    int
	cmds     map[string]int
	conns    sync.WaitGroup
}

func startCountingProxy(upstream string) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{addr: ln.Addr().String(), ln: ln, cmds: map[string]int{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(c, u); c.Close() }()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if p.counting.Load() {
							p.count(buf[:n])
						}
						if _, werr := u.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				u.Close()
			}()
		}
	}()
	return p, nil
}

// count records one write: its first command's name, from RESP
// "*N\r\n$L\r\nNAME\r\n" (MULTI for a transaction).
func (p *countingProxy) count(b []byte) {
	name := "?"
	r := bufio.NewReader(strings.NewReader(string(b)))
	if l, _ := r.ReadString('\n'); strings.HasPrefix(l, "*") {
		if l, _ = r.ReadString('\n'); strings.HasPrefix(l, "$") {
			if n, err := strconv.Atoi(strings.TrimSpace(l[1:])); err == nil && n < 64 {
				cmd := make([]byte, n)
				if _, err := io.ReadFull(r, cmd); err == nil {
					name = strings.ToUpper(string(cmd))
				}
			}
		}
	}
	p.mu.Lock()
	p.total++
	p.cmds[name]++
	p.mu.Unlock()
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	p.total, p.cmds = 0, map[string]int{}
	p.mu.Unlock()
}

func (p *countingProxy) snapshot() (int, map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.cmds
}

func (p *countingProxy) close() { p.ln.Close() }
