// Command foyer-load measures requests per second of a Foyer tenant's token
// endpoint and discovery, closed-loop, from a fixed number of keep-alive
// connections, the way bench/peers.sh loads the peer OPs with wrk (64
// connections, 3 s warm-up, 12 s measured, 5 s request timeout). It talks to
// loopback addresses only.
//
//	go run ./cmd/foyer-load -url http://127.0.0.1:8080/bench/v2.0 \
//	  -client bench-web -redirect http://localhost/bench/callback \
//	  -user alice@bench.example -workload refresh
//
// Workloads:
//
//	refresh    each connection signs in once through the sign-in form (a
//	           cookie jar, the form's CSRF token, PKCE S256), exchanges its
//	           code, then loops refresh_token grants (client_secret_basic),
//	           each with the refresh token the previous grant returned
//	code       each connection signs in once, then loops silent
//	           authorizations (its SSO session: authorize, sign-in page,
//	           callback) and exchanges each code; one operation is the
//	           whole flow of four requests
//	discovery  GET {url}/.well-known/openid-configuration
//	jwks       GET jwks_uri
//	me         each connection signs in once and exchanges its code for an
//	           access token with User.Read (added to -scope when missing),
//	           then loops GET /v1.0/me on the -url's origin with it
//	token      no load: signs in once as me does and prints the access
//	           token on a line "ACCESS_TOKEN <token>", for another load
//	           generator (wrk with shared/bench's req.lua and WRK_BEARER)
//
// The connections sign in one after another before the load starts (Foyer
// admits few concurrent sign-ins on one account from one address), and a
// sign-in answered 429 is posted again after its Retry-After.
//
// Endpoints come from the discovery document, with their origin replaced
// by the -url's (as peers.sh does). The client secret and the password may
// come from FOYER_LOAD_SECRET and FOYER_LOAD_PASSWORD instead of flags, to
// keep them out of process listings.
//
// The last line of the output is
//
//	RESULT workload=refresh rps=1234.5 p50_ms=51.20 p99_ms=80.10 errors=0 ops=14814 conns=64 duration_s=12.00
//
// rps counts operations completed in the measured window; p50 and p99 are
// their latencies (under a closed loop, mostly queueing); errors counts
// failed operations (transport errors, non-2xx answers, broken flows) in
// the window. A refresh chain that breaks is restarted with a new sign-in.
//
// The run is bounded: -d at most 10 min, -warmup at most 1 min, -c at most
// 1024, and -n caps the measured operations.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "foyer-load:", err)
		os.Exit(2)
	}
}

// Bounds of the run.
const (
	maxConns    = 1024
	maxDuration = 10 * time.Minute
	maxWarmup   = time.Minute
	// requestTimeout is wrk's --timeout in peers.sh.
	requestTimeout = 5 * time.Second
	// maxSignInRetries bounds the retries of a sign-in answered 429.
	maxSignInRetries = 5
)

type config struct {
	url, client, secret, user, password, redirect, scope, workload string
	me                                                             string // the Graph-style API's /v1.0/me

	conns          int
	dur, warmup    time.Duration
	maxOps         int64
	origin         *url.URL
	discovery, jwk string // endpoint URLs
	authorize      string
	token          string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("foyer-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080/bench/v2.0", "issuer base `URL` of a tenant (its GUID, name or domain form); loopback only")
	fs.StringVar(&c.client, "client", "bench-web", "client ID of a confidential app (refresh, code)")
	fs.StringVar(&c.secret, "secret", "", "client secret (default $FOYER_LOAD_SECRET)")
	fs.StringVar(&c.user, "user", "", "email of the user who signs in (refresh, code)")
	fs.StringVar(&c.password, "password", "", "the user's password (default $FOYER_LOAD_PASSWORD)")
	fs.StringVar(&c.redirect, "redirect", "http://localhost/bench/callback", "registered redirect `URI` of the app; never fetched")
	fs.StringVar(&c.scope, "scope", "openid profile email offline_access", "scope of the grants")
	fs.StringVar(&c.workload, "workload", "refresh", "refresh, code, me, token, discovery or jwks")
	fs.IntVar(&c.conns, "c", 64, "connections (closed loop, one operation in flight each)")
	fs.DurationVar(&c.dur, "d", 12*time.Second, "measured duration")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "warm-up before measuring (not recorded)")
	fs.Int64Var(&c.maxOps, "n", 0, "stop after this many measured operations (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.secret == "" {
		c.secret = getenv("FOYER_LOAD_SECRET")
	}
	if c.password == "" {
		c.password = getenv("FOYER_LOAD_PASSWORD")
	}
	var errs []error
	switch c.workload {
	case "refresh", "code", "me", "token":
		if c.user == "" || c.password == "" || c.secret == "" {
			errs = append(errs, fmt.Errorf("-workload %s needs -user, -password (or FOYER_LOAD_PASSWORD) and -secret (or FOYER_LOAD_SECRET)", c.workload))
		}
	case "discovery", "jwks":
	default:
		errs = append(errs, fmt.Errorf("-workload %q: want refresh, code, me, token, discovery or jwks", c.workload))
	}
	if (c.workload == "me" || c.workload == "token") && !slices.Contains(strings.Fields(c.scope), "User.Read") {
		c.scope += " User.Read"
	}
	if c.conns < 1 || c.conns > maxConns {
		errs = append(errs, fmt.Errorf("-c %d: want 1 to %d", c.conns, maxConns))
	}
	if c.dur <= 0 || c.dur > maxDuration {
		errs = append(errs, fmt.Errorf("-d %v: want more than 0 and at most %v", c.dur, maxDuration))
	}
	if c.warmup < 0 || c.warmup > maxWarmup {
		errs = append(errs, fmt.Errorf("-warmup %v: want 0 to %v", c.warmup, maxWarmup))
	}
	if c.maxOps < 0 {
		errs = append(errs, errors.New("-n must not be negative"))
	}
	u, err := url.Parse(strings.TrimSuffix(c.url, "/"))
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("-url %q: want an absolute http(s) URL", c.url))
	case !loopback(u.Hostname()):
		errs = append(errs, fmt.Errorf("-url %q: only loopback hosts (127.0.0.0/8, ::1, localhost) may be loaded", c.url))
	default:
		c.origin = &url.URL{Scheme: u.Scheme, Host: u.Host}
		c.url = u.String()
		c.me = c.origin.JoinPath("/v1.0/me").String()
	}
	if r, err := url.Parse(c.redirect); err != nil || !r.IsAbs() {
		errs = append(errs, fmt.Errorf("-redirect %q: want an absolute URI", c.redirect))
	}
	return c, errors.Join(errs...)
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// onLoopback rewrites an endpoint from the discovery document to the
// -url's origin, so that the load never leaves this host.
func (c *config) onLoopback(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("discovery names %q, not an absolute URL", endpoint)
	}
	u.Scheme, u.Host = c.origin.Scheme, c.origin.Host
	return u.String(), nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		MaxIdleConns:        c.conns,
		MaxIdleConnsPerHost: c.conns,
		MaxConnsPerHost:     c.conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: requestTimeout}).DialContext,
	}
	defer tr.CloseIdleConnections()
	if err := c.discover(ctx, tr); err != nil {
		return err
	}
	if c.workload == "token" {
		w := newWorker(c, tr)
		if err := w.setup(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ACCESS_TOKEN %s\n", w.access)
		return nil
	}
	fmt.Fprintf(stderr, "foyer-load: workload=%s url=%s c=%d warmup=%v d=%v\n", c.workload, c.url, c.conns, c.warmup, c.dur)

	workers := make([]*worker, c.conns)
	for i := range workers {
		workers[i] = newWorker(c, tr)
	}
	// Sign-ins run one at a time: each costs the server a password hash
	// (which it runs one per core anyway), and Foyer admits only a few
	// concurrent attempts on one account from one address.
	setupStart := time.Now()
	for _, w := range workers {
		if err := w.setup(ctx); err != nil {
			return err
		}
	}
	if c.workload == "refresh" || c.workload == "code" || c.workload == "me" {
		fmt.Fprintf(stderr, "foyer-load: %d sign-ins in %v\n", len(workers), time.Since(setupStart).Round(time.Millisecond))
	}

	m := &meter{maxOps: c.maxOps}
	m.start = time.Now().Add(c.warmup)
	m.end = m.start.Add(c.dur)
	ctx, cancel := context.WithDeadline(ctx, m.end)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.loop(ctx, m) }()
	}
	wg.Wait()
	r := m.result()
	if r.firstErr != nil {
		fmt.Fprintf(stderr, "foyer-load: first error: %v\n", r.firstErr)
	}
	fmt.Fprintf(stdout, "RESULT workload=%s rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d ops=%d conns=%d duration_s=%.2f\n",
		c.workload, r.rps, r.p50.Seconds()*1e3, r.p99.Seconds()*1e3, r.errors, r.ops, c.conns, r.elapsed.Seconds())
	if ctx.Err() != nil && context.Cause(ctx) != context.DeadlineExceeded && r.ops == 0 {
		return context.Cause(ctx)
	}
	return nil
}

// discover reads the tenant's discovery document.
func (c *config) discover(ctx context.Context, tr http.RoundTripper) error {
	c.discovery = c.url + "/.well-known/openid-configuration"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.discovery, nil)
	resp, err := (&http.Client{Transport: tr, Timeout: requestTimeout}).Do(req)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	var d struct {
		Authorize string `json:"authorization_endpoint"`
		Token     string `json:"token_endpoint"`
		JWKS      string `json:"jwks_uri"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery: GET %s: %s", c.discovery, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	for _, e := range []struct {
		in  string
		out *string
	}{{d.Authorize, &c.authorize}, {d.Token, &c.token}, {d.JWKS, &c.jwk}} {
		if *e.out, err = c.onLoopback(e.in); err != nil {
			return err
		}
	}
	return nil
}

// worker is one connection's closed loop, with its own cookie jar.
type worker struct {
	c       *config
	hc      *http.Client
	refresh string // the current refresh token (refresh)
	access  string // the access token (me)
	lat     []time.Duration
}

func newWorker(c *config, tr *http.Transport) *worker {
	jar, _ := cookiejar.New(nil)
	w := &worker{c: c}
	w.hc = &http.Client{
		Transport: tr,
		Jar:       jar,
		Timeout:   requestTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), c.redirect) {
				return http.ErrUseLastResponse // the app's redirect URI: never fetched
			}
			if !loopback(req.URL.Hostname()) {
				return fmt.Errorf("redirected off loopback, to %s", req.URL.Host)
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return w
}

func (w *worker) setup(ctx context.Context) error {
	switch w.c.workload {
	case "refresh":
		return w.newRefreshToken(ctx)
	case "code":
		_, _, err := w.authorize(ctx) // signs in; the code is left unused
		return err
	case "me", "token":
		code, verifier, err := w.authorize(ctx)
		if err != nil {
			return err
		}
		t, err := w.exchange(ctx, code, verifier)
		w.access = t.AccessToken
		return err
	}
	return nil
}

func (w *worker) op(ctx context.Context) error {
	switch w.c.workload {
	case "discovery":
		return w.get(ctx, w.c.discovery, "")
	case "jwks":
		return w.get(ctx, w.c.jwk, "")
	case "me":
		return w.get(ctx, w.c.me, w.access)
	case "code":
		code, verifier, err := w.authorize(ctx)
		if err != nil {
			return err
		}
		_, err = w.exchange(ctx, code, verifier)
		return err
	}
	t, err := w.grant(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.refresh}})
	if err != nil {
		return err
	}
	w.refresh = t.RefreshToken
	return nil
}

// loop runs operations until ctx ends or the meter is full. A refresh chain
// that breaks starts again from a sign-in (its session makes it silent).
func (w *worker) loop(ctx context.Context, m *meter) {
	defer func() { m.merge(w.lat) }()
	for ctx.Err() == nil && !m.full() {
		t0 := time.Now()
		err := w.op(ctx)
		t1 := time.Now()
		if ctx.Err() != nil && err != nil {
			return // cut by the deadline: not an error of the server
		}
		if m.record(t0, t1, err) {
			w.lat = append(w.lat, t1.Sub(t0))
		}
		if err != nil && w.c.workload == "refresh" {
			for ctx.Err() == nil && w.newRefreshToken(ctx) != nil {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// get fetches u, with the access token bearer unless it is "".
func (w *worker) get(ctx context.Context, u, bearer string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return err
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

// grant posts a token request with client_secret_basic.
func (w *worker) grant(ctx context.Context, form url.Values) (tokens, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.c.token, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(w.c.client), url.QueryEscape(w.c.secret))
	resp, err := w.hc.Do(req)
	if err != nil {
		return tokens{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return tokens{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return tokens{}, fmt.Errorf("token endpoint: %s: %.200s", resp.Status, body)
	}
	var t tokens
	if err := json.Unmarshal(body, &t); err != nil {
		return tokens{}, fmt.Errorf("token endpoint: %w", err)
	}
	if t.AccessToken == "" || (strings.Contains(w.c.scope, "offline_access") && t.RefreshToken == "") {
		return tokens{}, fmt.Errorf("token endpoint: response without the expected tokens: %.200s", body)
	}
	return t, nil
}

func (w *worker) exchange(ctx context.Context, code, verifier string) (tokens, error) {
	return w.grant(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {w.c.redirect}, "code_verifier": {verifier}})
}

func (w *worker) newRefreshToken(ctx context.Context) error {
	code, verifier, err := w.authorize(ctx)
	if err != nil {
		return err
	}
	t, err := w.exchange(ctx, code, verifier)
	if err != nil {
		return err
	}
	if t.RefreshToken == "" {
		return errors.New("no refresh token: the scope needs offline_access")
	}
	w.refresh = t.RefreshToken
	return nil
}

// Patterns of Foyer's sign-in page (templates/html).
var (
	reAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	reHidden = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// authorize sends an authorization request with PKCE S256; when the
// browser has no session it fills the sign-in form. It returns the code
// from the redirect to the app and the code verifier.
func (w *worker) authorize(ctx context.Context) (code, verifier string, err error) {
	verifier = rand.Text() + rand.Text() // 52 characters of [A-Z2-7]
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {w.c.client}, "redirect_uri": {w.c.redirect}, "response_type": {"code"},
		"scope": {w.c.scope}, "state": {rand.Text()}, "nonce": {rand.Text()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.c.authorize+"?"+q.Encode(), nil)
	resp, err := w.hc.Do(req)
	if err != nil {
		return "", "", err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode == http.StatusOK { // the sign-in form
		action, fields, err := form(resp.Request.URL, string(body))
		if err != nil {
			return "", "", err
		}
		// A 429 (too many attempts) shows the form again with Retry-After:
		// wait and post it again, a few times.
		for try := 0; ; try++ {
			fields.Set("email", w.c.user)
			fields.Set("password", w.c.password)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, action, strings.NewReader(fields.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if resp, err = w.hc.Do(req); err != nil {
				return "", "", err
			}
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode != http.StatusTooManyRequests || try >= maxSignInRetries {
				break
			}
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, 10*time.Second)
			}
			select {
			case <-ctx.Done():
				return "", "", ctx.Err()
			case <-time.After(wait):
			}
			if action, fields, err = form(resp.Request.URL, string(body)); err != nil {
				return "", "", err
			}
		}
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), w.c.redirect) {
		return "", "", fmt.Errorf("authorization ended at %s %s, not at the redirect URI: %.200s", resp.Status, resp.Request.URL.Path, body)
	}
	if e := loc.Query().Get("error"); e != "" {
		return "", "", fmt.Errorf("authorization failed: %s: %s", e, loc.Query().Get("error_description"))
	}
	if loc.Query().Get("state") != q.Get("state") || loc.Query().Get("code") == "" {
		return "", "", errors.New("authorization: redirect without the code or with another state")
	}
	return loc.Query().Get("code"), verifier, nil
}

// form returns the absolute action and the hidden fields (the CSRF token
// among them) of the sign-in page; the action must stay on loopback.
func form(page *url.URL, body string) (string, url.Values, error) {
	m := reAction.FindStringSubmatch(body)
	if m == nil {
		return "", nil, fmt.Errorf("no sign-in form at %s", page.Path)
	}
	action, err := page.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return "", nil, err
	}
	if !loopback(action.Hostname()) {
		return "", nil, fmt.Errorf("the sign-in form posts off loopback, to %s", action.Host)
	}
	fields := url.Values{}
	for _, h := range reHidden.FindAllStringSubmatch(body, -1) {
		fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	if fields.Get("csrf_token") == "" {
		return "", nil, errors.New("no CSRF token in the sign-in form")
	}
	return action.String(), fields, nil
}

// meter counts operations that complete inside [start, end].
type meter struct {
	start, end time.Time
	maxOps     int64

	ops, errs atomic.Int64
	mu        sync.Mutex
	lat       []time.Duration
	firstErr  error
	last      time.Time // when the -n cap was reached
}

func (m *meter) full() bool { return m.maxOps > 0 && m.ops.Load() >= m.maxOps }

// record counts an operation that ran from t0 to t1 and reports whether its
// latency is to be kept (a successful one inside the window).
func (m *meter) record(t0, t1 time.Time, err error) bool {
	if t1.Before(m.start) || t1.After(m.end) {
		return false
	}
	if err != nil {
		m.errs.Add(1)
		m.mu.Lock()
		if m.firstErr == nil {
			m.firstErr = err
		}
		m.mu.Unlock()
		return false
	}
	if n := m.ops.Add(1); m.maxOps > 0 && n == m.maxOps {
		m.mu.Lock()
		m.last = t1
		m.mu.Unlock()
	}
	return true
}

func (m *meter) merge(lat []time.Duration) {
	m.mu.Lock()
	m.lat = append(m.lat, lat...)
	m.mu.Unlock()
}

type result struct {
	rps         float64
	p50, p99    time.Duration
	ops, errors int64
	elapsed     time.Duration
	firstErr    error
}

func (m *meter) result() result {
	m.mu.Lock()
	defer m.mu.Unlock()
	end := m.end
	if !m.last.IsZero() {
		end = m.last
	}
	if now := time.Now(); now.Before(end) { // interrupted
		end = now
	}
	r := result{ops: m.ops.Load(), errors: m.errs.Load(), elapsed: end.Sub(m.start), firstErr: m.firstErr}
	if r.elapsed > 0 {
		r.rps = float64(r.ops) / r.elapsed.Seconds()
	}
	slices.Sort(m.lat)
	if n := len(m.lat); n > 0 {
		r.p50 = m.lat[(n-1)*50/100]
		r.p99 = m.lat[(n-1)*99/100]
	}
	return r
}
