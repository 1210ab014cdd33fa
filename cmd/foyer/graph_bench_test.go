package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/templates"
)

// graphBenchToken signs the bench user in (benchEnv of bench_test.go) and
// returns an access token with User.Read.
func graphBenchToken(e *benchEnv) (string, error) {
	b := e.browser()
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {e.clientID}, "redirect_uri": {e.redirect}, "response_type": {"code"},
		"scope": {"openid User.Read"}, "state": {"st"}, "nonce": {rand.Text()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	resp, err := b.Get(e.issuer + "/authorize?" + q.Encode())
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, fields, err := signInForm(resp.Request.URL, string(body))
	if err != nil {
		return "", err
	}
	fields.Set(templates.FieldEmail, e.user)
	fields.Set(templates.FieldPassword, e.password)
	if resp, err = b.PostForm(action, fields); err != nil {
		return "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && strings.Contains(string(page), `value="`+templates.DecisionAccept+`"`) {
		action, fields, err := signInForm(resp.Request.URL, string(page))
		if err != nil {
			return "", err
		}
		fields.Set(templates.FieldDecision, templates.DecisionAccept)
		if resp, err = b.PostForm(action, fields); err != nil {
			return "", err
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("authorization ended at %d %s, Location %q: %.300s", resp.StatusCode, resp.Request.URL.Path, resp.Header.Get("Location"), page)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {e.redirect}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.clientID), url.QueryEscape(e.secret))
	resp, err = e.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || resp.StatusCode != http.StatusOK || t.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %d, %v", resp.StatusCode, err)
	}
	return t.AccessToken, nil
}

// BenchmarkGraphMe: GET /v1.0/me with a valid ES256 access token over real
// HTTP (the signature once, remembered; claims; revocation and the user in
// one MGET; the tenant from the resolver's cache), and discovery in the
// same run for scale. One request at a time: the round trips that
// concurrent requests share are measured under load (.ci/bench, "me").
func BenchmarkGraphMe(b *testing.B) {
	e := sharedEnv(b)
	tok, err := graphBenchToken(e)
	if err != nil {
		b.Fatal(err)
	}
	me := func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, e.base+"/v1.0/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /v1.0/me: %d", resp.StatusCode)
		}
	}
	b.Run("me", func(b *testing.B) {
		me(b)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			me(b)
		}
	})
	b.Run("discovery", func(b *testing.B) {
		u := e.issuer + "/.well-known/openid-configuration"
		e.get(b, u)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			e.get(b, u)
		}
	})
}
