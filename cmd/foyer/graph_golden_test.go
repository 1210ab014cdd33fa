package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	reDateTime = regexp.MustCompile(`"(createdDateTime|date)": "[^"]+"`)
	reReqID    = regexp.MustCompile(`"(client-)?request-id": "[^"]+"`)
)

// golden compares body, indented and with its volatile values replaced,
// with testdata/graph/name (rewritten with -update).
func golden(t *testing.T, name string, body []byte, replace map[string]string) {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, body)
	}
	s := b.String() + "\n"
	for old, new := range replace {
		s = strings.ReplaceAll(s, old, new)
	}
	s = reDateTime.ReplaceAllString(s, `"$1": "2006-01-02T15:04:05Z"`)
	s = reReqID.ReplaceAllString(s, `"${1}request-id": "REQUEST-ID"`)
	path := filepath.Join("testdata", "graph", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if s != string(want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", name, path, s, want)
	}
}

// TestGraphGolden pins the wire format of GET /me, the authorization
// policy, and the error envelope.
func TestGraphGolden(t *testing.T) {
	w := startGraphWorld(t)
	x, w1 := w.x, w.w1
	other := x.user(t, "other")
	replace := map[string]string{
		w.env.base: "https://foyer.example",
		other.ID:   "11111111-1111-4111-8111-111111111111",
		w.sfx:      "SFX",
	}
	tok := w.as(x, "other").token(t, "web", "openid", "User.Read").AccessToken
	r := w.call(t, http.MethodGet, "/v1.0/me", tok, nil)
	wantStatus(t, r, http.StatusOK)
	golden(t, "me.json", r.body, replace)

	r = w.call(t, http.MethodGet, "/v1.0/users", tok, nil)
	wantDenied(t, r)
	golden(t, "error_denied.json", r.body, replace)

	r = w.call(t, http.MethodGet, "/v1.0/me", tok[:len(tok)-4], nil)
	wantInvalidToken(t, r)
	golden(t, "error_invalid_token.json", r.body, replace)

	admin := w.as(w1, "admin").token(t, "web", "openid", "Policy.Read.All").AccessToken
	r = w.call(t, http.MethodGet, "/v1.0/policies/authorizationPolicy", admin, nil)
	wantStatus(t, r, http.StatusOK)
	golden(t, "authorization_policy.json", r.body, replace)
}

// TestGraphRedisDown: with the store gone the API answers 503 with
// Retry-After in Graph's envelope, never 401 (a client would drop a good
// token) and never a partial answer.
func TestGraphRedisDown(t *testing.T) {
	w := startGraphWorld(t, func(c *Config) { c.RedisURL = "" }) // embedded, so the test can stop it
	tok := w.as(w.x, "cust").token(t, "web", "openid", "User.ReadWrite").AccessToken
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", tok, nil), http.StatusOK)
	w.env.app.stopRedis()
	for _, m := range []string{http.MethodGet, http.MethodPatch} {
		var body any
		if m == http.MethodPatch {
			body = `{"city":"Oslo"}`
		}
		r := w.call(t, m, "/v1.0/me", tok, body)
		wantGraphError(t, r, http.StatusServiceUnavailable, "serviceNotAvailable")
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%s: 503 without Retry-After", m)
		}
	}
}
