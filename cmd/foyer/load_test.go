package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// This file is the small load the resilience tests (failover_test.go,
// aof_test.go) run while they break Redis: sign-ups, code exchanges,
// refreshes and userinfo calls through the real HTTP server, each answer
// checked, and every acknowledged result kept for checking afterwards.

// needRedis returns when every named program is on PATH. Otherwise it
// skips the test, or fails it when CI=true (.ci/run installs them).
func needRedis(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true but %s is not on PATH", p)
			}
			t.Skipf("%s is not on PATH", p)
		}
	}
}

// topologyScript starts and stops the Redis deployments (see its header).
const topologyScript = "../../.ci/redis-topologies.sh"

// startTopology starts a deployment of the test's own ("sentinel" or
// "cluster") with topologyScript in a temporary folder, so that the test
// may break it while other tests run, and stops it when the test ends. It
// returns the deployment's URL.
func startTopology(t *testing.T, which string) string {
	t.Helper()
	needRedis(t, "redis-server", "redis-sentinel", "redis-cli", "python3")
	dir := t.TempDir()
	cmd := exec.Command("bash", topologyScript, "start", dir, which)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Cleanup(func() {
		if err := exec.Command("bash", topologyScript, "stop", dir).Run(); err != nil {
			t.Errorf("stopping the %s deployment: %v", which, err)
		}
	})
	if err != nil {
		t.Fatalf("starting the %s deployment: %v\n%s", which, err, stderr.String())
	}
	want := map[string]string{"sentinel": "FOYER_TEST_REDIS_SENTINEL_URL", "cluster": "FOYER_TEST_REDIS_CLUSTER_URL"}[which]
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, value, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if name == want {
			return strings.Trim(value, "'")
		}
	}
	t.Fatalf("%s printed no %s:\n%s", topologyScript, want, out)
	return ""
}

// loadAccount is a user the load signed up, with the newest tokens it was
// given for it.
type loadAccount struct {
	mail, password  string
	sub             string // the userinfo subject, once known
	access, refresh string
}

// load runs workers that loop over end-to-end flows against env's tenant
// a until stopped. A 503 with Retry-After is what a request may get while
// Redis is away: with retry set the worker sends the same request again,
// as a client would, and the retry must succeed; without it the worker
// abandons the flow and starts a new one (a person starting over). Any
// other unexpected answer is wrong and is recorded.
type load struct {
	env   *testEnv
	retry bool

	stopping    atomic.Bool
	wg          sync.WaitGroup
	iterations  atomic.Int64
	unavailable atomic.Int64 // 503 answers
	abandoned   atomic.Int64

	mu       sync.Mutex
	accounts []*loadAccount // acknowledged sign-ups
	wrong    []string
}

// retryFor bounds how long a request is retried on 503.
const retryFor = 45 * time.Second

// errUnavailable is a 503 the worker does not retry.
var errUnavailable = errors.New("503")

func startLoad(env *testEnv, workers int, retry bool) *load {
	l := &load{env: env, retry: retry}
	for w := range workers {
		l.wg.Add(1)
		go l.work(w)
	}
	return l
}

// waitSignUps waits until the load has n acknowledged sign-ups, or fails t
// after two minutes (a stuck load, not a slow one).
func (l *load) waitSignUps(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for l.signUps() < n {
		if time.Now().After(deadline) {
			l.stop()
			t.Fatalf("the load has %d sign-ups, want %d; wrong answers: %v", l.signUps(), n, l.wrong)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *load) signUps() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accounts)
}

// stop ends the workers after their current iteration.
func (l *load) stop() {
	l.stopping.Store(true)
	l.wg.Wait()
}

func (l *load) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wrong = append(l.wrong, fmt.Sprintf(format, args...))
}

func (l *load) work(w int) {
	defer l.wg.Done()
	var prev *loadAccount
	for i := 0; !l.stopping.Load(); i++ {
		a, err := l.signUp(fmt.Sprintf("load-%d-%d-%s@example.com", w, i, suffix()))
		switch {
		case errors.Is(err, errUnavailable):
			l.abandoned.Add(1)
			time.Sleep(100 * time.Millisecond) // the person starts over
		case err != nil:
			l.fail("worker %d sign-up %d: %v", w, i, err)
		}
		if prev != nil {
			if err := l.refresh(prev); err != nil && !errors.Is(err, errUnavailable) {
				l.fail("worker %d refresh %d: %v", w, i, err)
			}
			if err := l.userinfo(prev); err != nil && !errors.Is(err, errUnavailable) {
				l.fail("worker %d userinfo %d: %v", w, i, err)
			}
		}
		if a != nil && a.refresh != "" {
			prev = a
		}
		l.iterations.Add(1)
	}
}

// newBrowser is a cookie-keeping client that trusts the server and stops
// at the app's redirect URI.
func (l *load) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *l.env.srv.Client()
	c.Jar = jar
	c.Timeout = time.Minute
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "app.example" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &c
}

// send sends the request mk builds. On a 503 with Retry-After it sends a
// new one after a pause, for up to retryFor, when l retries; otherwise it
// returns errUnavailable. A 503 without Retry-After or a failed transport
// is an error.
func (l *load) send(c *http.Client, mk func() *http.Request) (page, error) {
	deadline := time.Now().Add(retryFor)
	for {
		req := mk()
		resp, err := c.Do(req)
		if err != nil {
			return page{}, fmt.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return page{}, fmt.Errorf("%s %s: reading the answer: %v", req.Method, req.URL.Path, err)
		}
		p := page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
		if p.status != http.StatusServiceUnavailable {
			return p, nil
		}
		l.unavailable.Add(1)
		switch {
		case resp.Header.Get("Retry-After") == "":
			return p, fmt.Errorf("%s %s: 503 without Retry-After", req.Method, req.URL.Path)
		case strings.Contains(p.body, "access_token"):
			return p, fmt.Errorf("%s %s: a 503 with a token: %s", req.Method, req.URL.Path, p.body)
		case !l.retry:
			return p, errUnavailable
		case time.Now().After(deadline):
			return p, fmt.Errorf("%s %s: still 503 after %v", req.Method, req.URL.Path, retryFor)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (l *load) get(c *http.Client, u string) (page, error) {
	return l.send(c, func() *http.Request { req, _ := http.NewRequest(http.MethodGet, u, nil); return req })
}

// submit posts p's form with values set.
func (l *load) submit(c *http.Client, p page, values map[string]string) (page, error) {
	m := reAction.FindStringSubmatch(p.body)
	if m == nil {
		return page{}, fmt.Errorf("no form on %s (%d): %.300s", p.url, p.status, p.body)
	}
	action, err := p.url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return page{}, err
	}
	f := url.Values{}
	for _, h := range reHidden.FindAllStringSubmatch(p.body, -1) {
		f.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	for k, v := range values {
		f.Set(k, v)
	}
	return l.send(c, func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	})
}

// expect checks that p is a 200 page containing text.
func expect(step string, p page, text string) error {
	if p.status != http.StatusOK || !strings.Contains(p.body, text) {
		return fmt.Errorf("%s: %d at %s, want a page with %q: %.300s", step, p.status, p.url, text, p.body)
	}
	return nil
}

// codeFrom returns the code of a redirect to the app with state st.
func codeFrom(step string, p page, st string) (string, error) {
	loc, err := url.Parse(p.header.Get("Location"))
	if (p.status != http.StatusFound && p.status != http.StatusSeeOther) || err != nil || loc.Host != "app.example" {
		return "", fmt.Errorf("%s: %d at %s, want a redirect to the app: %.300s", step, p.status, p.url, p.body)
	}
	q := loc.Query()
	if q.Get("error") != "" || q.Get("code") == "" || q.Get("state") != st {
		return "", fmt.Errorf("%s: redirected with %v", step, q)
	}
	return q.Get("code"), nil
}

// authorize starts a code flow of tenant a's web app (prompt may be
// empty) and returns the first page, the state and the PKCE verifier.
func (l *load) authorize(c *http.Client, prompt string) (p page, st, verifier string, err error) {
	f := l.env.a
	verifier, st = oauth2.GenerateVerifier(), "st-"+suffix()
	q := url.Values{
		"client_id": {f.webID}, "redirect_uri": {f.redirect}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "state": {st},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	if prompt != "" {
		q.Set("prompt", prompt)
	}
	p, err = l.get(c, l.env.authorizeURL(f, q))
	return p, st, verifier, err
}

// signUp creates an account for mail through the sign-up pages, with the
// code from the mailbox, and exchanges the code the app receives. The
// account is acknowledged once the app gets its code.
func (l *load) signUp(mail string) (*loadAccount, error) {
	c := l.newBrowser()
	p, st, verifier, err := l.authorize(c, "create")
	if err != nil {
		return nil, err
	}
	if err := expect("sign-up page", p, "Create your account"); err != nil {
		return nil, err
	}
	if p, err = l.submit(c, p, map[string]string{"email": mail}); err != nil {
		return nil, err
	}
	if err := expect("after the address", p, "Check your email"); err != nil {
		return nil, err
	}
	code := l.env.lastCode(mail)
	if code == "" {
		return nil, fmt.Errorf("no code mailed to %s", mail)
	}
	if p, err = l.submit(c, p, map[string]string{"code": code}); err != nil {
		return nil, err
	}
	if err := expect("after the code", p, "Finish creating your account"); err != nil {
		return nil, err
	}
	a := &loadAccount{mail: mail, password: "a long and unusual passphrase " + suffix()}
	if p, err = l.submit(c, p, map[string]string{"displayName": "Load", "givenName": "Lo", "surname": "Ad", "password": a.password}); err != nil {
		return nil, err
	}
	authCode, err := codeFrom("after the password", p, st)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.accounts = append(l.accounts, a)
	l.mu.Unlock()
	return a, l.exchange(a, authCode, verifier)
}

// signIn signs a in through the sign-in page and exchanges the code.
func (l *load) signIn(a *loadAccount) error {
	c := l.newBrowser()
	p, st, verifier, err := l.authorize(c, "")
	if err != nil {
		return err
	}
	if err := expect("sign-in page", p, `name="password"`); err != nil {
		return err
	}
	if p, err = l.submit(c, p, map[string]string{"email": a.mail, "password": a.password}); err != nil {
		return err
	}
	code, err := codeFrom("after signing in", p, st)
	if err != nil {
		return err
	}
	return l.exchange(a, code, verifier)
}

// token posts a token request as the web app and decodes the answer, which
// must be a 200 with an access and a refresh token.
func (l *load) token(a *loadAccount, form url.Values) error {
	f := l.env.a
	p, err := l.send(l.env.client, func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, f.issuer(l.env.base)+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(f.webID, f.webSecret)
		return req
	})
	if err != nil {
		return err
	}
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if p.status != http.StatusOK || json.Unmarshal([]byte(p.body), &out) != nil || out.AccessToken == "" || out.RefreshToken == "" {
		return fmt.Errorf("%s grant: %d %.300s", form.Get("grant_type"), p.status, p.body)
	}
	l.mu.Lock()
	a.access, a.refresh = out.AccessToken, out.RefreshToken
	l.mu.Unlock()
	return nil
}

func (l *load) exchange(a *loadAccount, code, verifier string) error {
	return l.token(a, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {verifier}, "redirect_uri": {l.env.a.redirect}})
}

func (l *load) refresh(a *loadAccount) error {
	l.mu.Lock()
	rt := a.refresh
	l.mu.Unlock()
	return l.token(a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// userinfo checks that a's access token is active and names the same
// subject every time.
func (l *load) userinfo(a *loadAccount) error {
	l.mu.Lock()
	at := a.access
	l.mu.Unlock()
	p, err := l.send(l.env.client, func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, l.env.a.issuer(l.env.base)+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		return req
	})
	if err != nil {
		return err
	}
	var out struct {
		Sub string `json:"sub"`
	}
	if p.status != http.StatusOK || json.Unmarshal([]byte(p.body), &out) != nil || out.Sub == "" {
		return fmt.Errorf("userinfo: %d %.300s", p.status, p.body)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.sub == "" {
		a.sub = out.Sub
	} else if a.sub != out.Sub {
		return fmt.Errorf("userinfo: subject %q, was %q", out.Sub, a.sub)
	}
	return nil
}

// check stops the load, reports its wrong answers, and checks that every
// acknowledged sign-up still signs in and that the newest refresh and
// access token of each account still work: no acknowledged write was
// lost. Requests are retried on 503 here, whatever l's mode.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.stop()
	t.Logf("%d iterations, %d accounts, %d answers 503, %d flows abandoned on 503",
		l.iterations.Load(), len(l.accounts), l.unavailable.Load(), l.abandoned.Load())
	for _, w := range l.wrong {
		t.Errorf("wrong answer: %s", w)
	}
	l.retry = true
	for _, a := range l.accounts {
		if a.refresh != "" {
			if err := l.userinfo(a); err != nil {
				t.Errorf("%s: the newest access token: %v", a.mail, err)
			}
			if err := l.refresh(a); err != nil {
				t.Errorf("%s: the newest refresh token: %v", a.mail, err)
			}
		}
		if err := l.signIn(a); err != nil {
			t.Errorf("%s: signing in: %v", a.mail, err)
		}
	}
}
