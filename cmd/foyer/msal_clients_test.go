package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Microsoft's own MSAL libraries against Foyer, configured as for Entra
// but for the authority: testdata/msal holds the scripts, their
// package.json and package-lock.json (exact versions); node_modules there
// comes from `npm ci` (.ci/run does it).
const msalDir = "testdata/msal"

// needMSAL skips the test when node or the MSAL packages (and, for the
// browser, chromium and playwright-core) are missing, unless
// FOYER_BROWSER_TEST=required (CI sets it), where that fails it instead.
func needMSAL(t *testing.T, browser bool) {
	t.Helper()
	missing := ""
	pkgs := []string{"@azure/msal-node"}
	if browser {
		pkgs = []string{"@azure/msal-browser", "playwright-core"}
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(chromiumPath); browser && err != nil {
		missing = chromiumPath + " is missing (apt-get install chromium)"
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(msalDir, "node_modules", p, "package.json")); missing == "" && err != nil {
			missing = p + " is not installed (npm ci in cmd/foyer/" + msalDir + ")"
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("FOYER_BROWSER_TEST") == "required" {
		t.Fatalf("FOYER_BROWSER_TEST=required but %s", missing)
	}
	t.Skipf("%s; set FOYER_BROWSER_TEST=required to fail instead", missing)
}

// serverCAFile writes the test server's certificate (self-signed) to a PEM
// file for NODE_EXTRA_CA_CERTS.
func serverCAFile(t *testing.T, env *testEnv) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "foyer-test-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: env.srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// msalResult is one token result as the scripts print it.
type msalResult struct {
	Step          string
	URL           string
	AccessToken   string
	IDToken       string
	Scopes        []string
	HomeAccountID string
	TenantID      string
	Username      string
	IDTokenClaims map[string]any
}

// checkResult verifies a token result: the access token works at
// /v1.0/me for the user, carries bare scopes, and MSAL's account is
// oid.tid as with Entra.
func (m *msalTenant) checkResult(t *testing.T, r msalResult) {
	t.Helper()
	oid, _ := r.IDTokenClaims["oid"].(string)
	if oid == "" || r.HomeAccountID != oid+"."+m.id || r.TenantID != m.id || r.Username != m.user {
		t.Fatalf("%s: account %q (oid %q), tenant %q, username %q; want oid.%s, %s", r.Step, r.HomeAccountID, oid, r.TenantID, r.Username, m.id, m.user)
	}
	if got := apiScopes(t, r.AccessToken); got != "User.Read" {
		t.Fatalf("%s: scp's API scopes = %q, want User.Read", r.Step, got)
	}
	status, id := m.env.getMe(t, r.AccessToken)
	if status != http.StatusOK || id != oid {
		t.Fatalf("%s: GET /v1.0/me = %d for %q, want 200 for %q", r.Step, status, id, oid)
	}
}

// TestMSALNode runs @azure/msal-node (testdata/msal/msal-node.mjs) against
// Foyer over HTTPS: getAuthCodeUrl, a sign-in over HTTP with the form,
// acquireTokenByCode, acquireTokenSilent with forceRefresh,
// acquireTokenByRefreshToken and logout, in MSAL's default (AAD) mode and in
// OIDC mode. The app asks for
// "https://graph.microsoft.com/User.Read", as an app written for Entra does.
func TestMSALNode(t *testing.T) {
	needMSAL(t, false)
	m := startMSALEnv(t)
	// MSAL's default mode, and OIDC mode, which reads discovery at
	// B/{tenant}/.well-known/openid-configuration.
	for _, mode := range []string{"AAD", "OIDC"} {
		t.Run(mode, func(t *testing.T) { m.runMSALNode(t, mode) })
	}
}

func (m *msalTenant) runMSALNode(t *testing.T, mode string) {
	env := m.env
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "msal-node.mjs")
	cmd.Dir = msalDir
	cmd.Env = append(os.Environ(),
		"NODE_EXTRA_CA_CERTS="+serverCAFile(t, env),
		"FOYER_AUTHORITY="+env.base+"/"+m.name,
		"FOYER_KNOWN_AUTHORITY="+strings.TrimPrefix(env.base, "https://"),
		"FOYER_CLIENT_ID="+m.webID,
		"FOYER_CLIENT_SECRET="+m.webSecret,
		"FOYER_REDIRECT_URI="+m.webRedir,
		"FOYER_POST_LOGOUT_URI="+m.webBye,
		"FOYER_SCOPES=https://graph.microsoft.com/User.Read",
		"FOYER_PROTOCOL_MODE="+mode,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
		if s := strings.TrimSpace(stderr.String()); s != "" {
			t.Logf("msal-node.mjs stderr:\n%s", s)
		}
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	next := func(step string) msalResult {
		t.Helper()
		if !lines.Scan() {
			cmd.Wait()
			t.Fatalf("msal-node.mjs ended before step %q: %s", step, stderr.String())
		}
		var r msalResult
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil || r.Step != step {
			t.Fatalf("msal-node.mjs printed %q, want step %q (%v)", lines.Text(), step, err)
		}
		return r
	}

	// The authorization URL MSAL built: Foyer's, with MSAL's parameters.
	r := next("authorize")
	au, err := url.Parse(r.URL)
	if err != nil || !strings.HasPrefix(r.URL, env.base+"/") {
		t.Fatalf("authorization URL %q", r.URL)
	}
	for _, p := range []string{"client_info", "client-request-id", "x-client-SKU", "code_challenge"} {
		if au.Query().Get(p) == "" {
			t.Errorf("MSAL's authorization URL lacks %s: %s", p, r.URL)
		}
	}
	b := env.browser()
	p := b.get(r.URL)
	p = b.consent(b.signIn(p, m.user, m.pass))
	q := redirected(t, p)
	if q.Get("error") != "" || q.Get("code") == "" {
		t.Fatalf("authorization: %v", q)
	}
	reply, _ := json.Marshal(map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	if _, err := stdin.Write(append(reply, '\n')); err != nil {
		t.Fatal(err)
	}

	first := next("code")
	m.checkResult(t, first)
	if aud := first.IDTokenClaims["aud"]; first.IDTokenClaims["tid"] != m.id || (aud != m.webID && fmt.Sprint(aud) != "["+m.webID+"]") {
		t.Fatalf("ID token claims: %v", first.IDTokenClaims)
	}
	silent := next("silent")
	m.checkResult(t, silent)
	byRT := next("refresh")
	m.checkResult(t, byRT)
	if first.AccessToken == silent.AccessToken || silent.AccessToken == byRT.AccessToken {
		t.Fatal("forceRefresh or acquireTokenByRefreshToken returned a cached access token")
	}

	// Logout: the end-session URL without client_id, to the app's
	// registered post-logout URI, after the confirmation.
	r = next("logout")
	lu, err := url.Parse(r.URL)
	if err != nil || lu.Query().Get("post_logout_redirect_uri") != m.webBye || lu.Query().Has("client_id") {
		t.Fatalf("logout URL %q", r.URL)
	}
	p = b.get(r.URL)
	action, form := p.form(t)
	form.Set("decision", "signout")
	p = b.post(action, form)
	if loc := p.header.Get("Location"); loc != m.webBye {
		t.Fatalf("after logout: %d Location %q, want %q", p.status, loc, m.webBye)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("msal-node.mjs: %v", err)
	}
}

// serveSPA serves spa.html on the tenant's SPA origin (loopback HTTP),
// with msal-browser's browser bundle from node_modules and the app's
// settings: the authority by the tenant's name, as for Entra.
func (m *msalTenant) serveSPA(t *testing.T) {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{
		"clientId":         m.spaID,
		"authority":        m.env.base + "/" + m.name,
		"knownAuthorities": []string{strings.TrimPrefix(m.env.base, "https://")},
		"scopes":           []string{"https://graph.microsoft.com/User.Read"},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(msalDir, "spa.html"))
	})
	mux.HandleFunc("GET /msal-browser.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(msalDir, "node_modules", "@azure", "msal-browser", "lib", "msal-browser.min.js"))
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(cfg)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(m.spaLn)
	t.Cleanup(func() { srv.Close() })
}

// TestMSALBrowser runs a single-page app built on @azure/msal-browser in
// its default configuration (testdata/msal/spa.html) in Chromium
// (msal-browser.mjs): loginRedirect, whose answer comes back in the
// fragment, a silent refresh, and logoutRedirect back to the app. Chromium
// trusts Foyer's test certificate by its public key
// (--ignore-certificate-errors-spki-list), for that key only.
func TestMSALBrowser(t *testing.T) {
	needMSAL(t, true)
	m := startMSALEnv(t)
	m.serveSPA(t)
	shots := screenshotDir(t, "")
	spki := sha256.Sum256(m.env.srv.Certificate().RawSubjectPublicKeyInfo)

	var got struct {
		Login, Silent     msalResult
		AuthorizeFragment bool
		AuthorizeURL      string
		LogoutURL         string
		Back              string
	}
	runChromiumScript(t, msalDir, "msal-browser.mjs", 90*time.Second, shots, []string{
		"FOYER_SPA_URL=" + m.spaOrigin + "/",
		"FOYER_EMAIL=" + m.user,
		"FOYER_PASSWORD=" + m.pass,
		"FOYER_SPKI=" + base64.StdEncoding.EncodeToString(spki[:]),
	}, &got)

	// loginRedirect asked for the fragment and got the code there.
	au, err := url.Parse(got.AuthorizeURL)
	if err != nil || au.Query().Get("response_mode") != "fragment" || au.Query().Get("client_id") != m.spaID {
		t.Fatalf("msal-browser's authorization request %q: want response_mode=fragment", got.AuthorizeURL)
	}
	if !got.AuthorizeFragment {
		t.Fatal("the code did not come back in the fragment")
	}
	m.checkResult(t, got.Login)
	m.checkResult(t, got.Silent)
	if got.Login.AccessToken == got.Silent.AccessToken {
		t.Fatal("acquireTokenSilent with forceRefresh returned the cached token")
	}
	// logoutRedirect sent neither client_id nor id_token_hint, and came
	// back to the app's registered post-logout URI.
	lu, err := url.Parse(got.LogoutURL)
	if err != nil || lu.Query().Get("post_logout_redirect_uri") != m.spaOrigin+"/" || lu.Query().Has("client_id") || lu.Query().Has("id_token_hint") {
		t.Fatalf("msal-browser's logout request %q", got.LogoutURL)
	}
	if !strings.HasPrefix(got.Back, m.spaOrigin+"/") {
		t.Fatalf("after logout the browser is at %q, want the app", got.Back)
	}
	for _, f := range []string{"msal-01-app.png", "msal-03-signed-in.png", "msal-05-signed-out.png"} {
		if fi, err := os.Stat(filepath.Join(shots, f)); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
}
