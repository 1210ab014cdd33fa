package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// browserDir holds signup.mjs, its package.json and package-lock.json;
// node_modules there comes from `npm ci` (.ci/run does it).
const browserDir = "testdata/browser"

// chromiumPath is Debian's chromium, which signup.mjs drives.
const chromiumPath = "/usr/bin/chromium"

// needBrowser skips the test when node, chromium or playwright-core is
// missing, unless FOYER_BROWSER_TEST=required (CI sets it), where that
// fails it instead.
func needBrowser(t *testing.T) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(chromiumPath); err != nil {
		missing = chromiumPath + " is missing (apt-get install chromium)"
	} else if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core")); err != nil {
		missing = "playwright-core is not installed (npm ci in cmd/foyer/" + browserDir + ")"
	}
	if missing == "" {
		return
	}
	if os.Getenv("FOYER_BROWSER_TEST") == "required" {
		t.Fatalf("FOYER_BROWSER_TEST=required but %s", missing)
	}
	t.Skipf("%s; set FOYER_BROWSER_TEST=required to fail instead", missing)
}

// TestBrowserSignUp signs a new person up through the pages in Chromium
// (testdata/browser/signup.mjs: labels and button names only), with the
// code read from the dev mailbox, and redeems the code the app receives.
// Screenshots of each page go to $FOYER_ARTIFACTS when set, else to a
// temporary folder.
func TestBrowserSignUp(t *testing.T) {
	needBrowser(t)
	// The per-IP sign-up limit counts every test's sign-ups from 127.0.0.1
	// on a shared Redis: this one is not about limits.
	env := startEnv(t, func(c *Config) { c.maxStartsPerIP = 1 << 40 })
	mailbox := httptest.NewServer(env.app.mailbox.Handler())
	defer mailbox.Close()

	shots := screenshotDir(t, "")

	c := env.rp(env.a, true, oidc.ScopeOpenID, "email", "profile")
	verifier, state := oauth2.GenerateVerifier(), "st-"+suffix()
	authURL := c.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "create"))
	addr := "browser." + suffix() + "@example.com"
	const name = "Browser Tester"

	var got struct{ Code, State string }
	runChromiumScript(t, browserDir, "signup.mjs", 90*time.Second, shots, []string{
		"FOYER_AUTH_URL=" + authURL,
		"FOYER_MAILBOX_URL=" + mailbox.URL,
		"FOYER_SIGNUP_EMAIL=" + addr,
		"FOYER_SIGNUP_NAME=" + name,
		"FOYER_APP_ORIGIN=https://app.example",
	}, &got)
	if got.Code == "" {
		t.Fatalf("signup.mjs gave no code: %+v", got)
	}
	if got.State != state {
		t.Fatalf("state = %q, want %q", got.State, state)
	}

	tok, err := c.exchange(got.Code, verifier)
	if err != nil {
		t.Fatalf("token endpoint refused the code from the browser: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := c.verifier.Verify(env.ctx(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims["email"] != addr || claims["tid"] != env.a.id || claims["name"] != name {
		t.Fatalf("claims: %v", claims)
	}
	u, err := env.app.store.GetUser(t.Context(), env.a.id, idt.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if u.CreationType != "SelfServiceSignUp" {
		t.Fatalf("creationType = %q, want SelfServiceSignUp: %+v", u.CreationType, u)
	}
	for _, f := range []string{"01-create-account.png", "02-check-email.png", "03-finish.png", "04-app.png"} {
		if fi, err := os.Stat(filepath.Join(shots, f)); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
}
