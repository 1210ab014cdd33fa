package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestAccountPage drives the "My account" page of seed 003: sign in, edit
// the profile (editable fields only), see the apps with their grants and
// revoke one (its refresh tokens die), change the password.
func TestAccountPage(t *testing.T) {
	env := startEnv(t)
	b := env.browser()
	accountURL := env.a.issuer(env.base) + "/account"

	// An app with a grant: the third-party app, consented through the flow.
	c := env.rp(env.a, false, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "User.Read")
	c.conf.ClientID = env.a.spaID + "-3p"
	code, verifier, _ := c.login(env.browser(), env.a)
	tok, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}

	p := b.get(accountURL)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign in to your account") {
		t.Fatalf("account page without a session: %d", p.status)
	}
	p = b.submit(p, map[string]string{"email": env.a.user, "password": "wrong " + suffix()})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "incorrect") {
		t.Fatalf("wrong password: %d", p.status)
	}
	p = b.submit(b.get(accountURL), map[string]string{"email": env.a.user, "password": env.a.password})
	if p.status != http.StatusOK || !strings.Contains(p.body, "My account") || !strings.Contains(p.body, "Third-party app A") {
		t.Fatalf("account page: %d\n%s", p.status, p.body)
	}
	for _, l := range []string{`<label for="p-displayName">Display name</label>`, `<label for="p-preferredLanguage">`, `<label for="pw-new">New password</label>`} {
		if !strings.Contains(p.body, l) {
			t.Fatalf("page lacks %s", l)
		}
	}
	if strings.Contains(p.body, `name="mail"`) || strings.Contains(p.body, `name="userType"`) {
		t.Fatal("non-updatable properties are editable")
	}

	// Profile: invalid values are refused whole, valid ones saved.
	bad := b.post(env.a.issuer(env.base)+"/account/profile", formOf(t, p, 0, map[string]string{"city": "Paris", "preferredLanguage": "not a tag!"}))
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "Preferred language") {
		t.Fatalf("bad language: %d", bad.status)
	}
	uid, _ := env.app.store.UserIDByMail(t.Context(), env.a.id, env.a.user)
	if u, _ := env.app.store.GetUser(t.Context(), env.a.id, uid); u.City == "Paris" {
		t.Fatal("an invalid form was partly written")
	}
	ok := b.post(env.a.issuer(env.base)+"/account/profile", formOf(t, p, 0, map[string]string{"city": "Paris", "preferredLanguage": "fr-ca"}))
	if ok.status != http.StatusOK || !strings.Contains(ok.body, "Your profile was saved") {
		t.Fatalf("save: %d", ok.status)
	}
	if u, _ := env.app.store.GetUser(t.Context(), env.a.id, uid); u.City != "Paris" || u.PreferredLanguage != "fr-CA" {
		t.Fatalf("saved user: %+v", u)
	}

	// Revoke the app: its refresh token dies.
	p = b.get(accountURL)
	rv := b.post(env.a.issuer(env.base)+"/account/revoke", formOf(t, p, 1, nil))
	if rv.status != http.StatusOK || !strings.Contains(rv.body, "Access was revoked") || strings.Contains(rv.body, "Third-party app A") {
		t.Fatalf("revoke: %d", rv.status)
	}
	if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("refresh after revoking consent: %v", err)
	}

	// Change the password: the old one stops working.
	next := "another long passphrase " + suffix()
	pw := b.post(env.a.issuer(env.base)+"/account/password", formOf(t, rv, 1, map[string]string{"currentPassword": env.a.password, "newPassword": next}))
	if pw.status != http.StatusOK || !strings.Contains(pw.body, "Your password was changed") {
		t.Fatalf("change password: %d\n%s", pw.status, pw.body)
	}
	other := env.browser()
	if q := other.signIn(env.loginPage(other, env.a), env.a.user, env.a.password); q.status != http.StatusOK || !strings.Contains(q.body, "incorrect") {
		t.Fatalf("old password still works: %d", q.status)
	}
}

// formOf returns the fields of the i-th post form on p with values set.
func formOf(t *testing.T, p page, i int, values map[string]string) map[string][]string {
	t.Helper()
	forms := reForm.FindAllStringSubmatch(p.body, -1)
	if i >= len(forms) {
		t.Fatalf("page has %d forms, want form %d:\n%s", len(forms), i, p.body)
	}
	f := map[string][]string{}
	for _, in := range reInput.FindAllStringSubmatch(forms[i][1], -1) {
		f[in[1]] = []string{in[2]}
	}
	for k, v := range values {
		f[k] = []string{v}
	}
	return f
}
