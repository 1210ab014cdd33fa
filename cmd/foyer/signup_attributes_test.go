package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestSignUpAppAttributes checks that an app can require more of the
// profile than the three default fields, and that they are validated by
// the profile rules and stored.
func TestSignUpAppAttributes(t *testing.T) {
	sfx := suffix()
	env := startEnvWith(t, `
  - name: attrs-`+sfx+`
    kind: external
    apps:
      - clientId: attrs-`+sfx+`
        redirectUris: [https://app.example/attrs/callback]
        scopes: [openid, email]
        signUpEnabled: true
        preConsented: true
        signUpAttributes: [city, country, preferredLanguage]
`)
	tid, err := env.app.store.TenantIDByName(t.Context(), "attrs-"+sfx)
	if err != nil {
		t.Fatal(err)
	}
	f := tenantFixture{id: tid, spaID: "attrs-" + sfx, redirect: "https://app.example/attrs/callback"}
	c := env.rp(f, false, oidc.ScopeOpenID, "email")
	b := env.browser()
	p := b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "create")))
	addr := "attrs-" + sfx + "@example.org"
	p = b.submit(p, map[string]string{"email": addr})
	p = b.submit(p, map[string]string{"code": env.lastCode(addr)})
	for _, l := range []string{`<label for="f-city">City</label>`, `<label for="f-country">Country or region</label>`, `<label for="f-preferredLanguage">Preferred language</label>`} {
		if !strings.Contains(p.body, l) {
			t.Fatalf("profile page lacks %s:\n%s", l, p.body)
		}
	}
	base := map[string]string{"displayName": "Ada", "givenName": "Ada", "surname": "L", "password": "a long and unusual passphrase " + sfx,
		"city": "Paris", "country": "France", "preferredLanguage": "fr-fr"}
	missing := map[string]string{}
	for k, v := range base {
		missing[k] = v
	}
	missing["city"] = ""
	if q := b.submit(p, missing); q.status != http.StatusBadRequest || !strings.Contains(q.body, "City is required") {
		t.Fatalf("missing city: %d", q.status)
	}
	badLang := map[string]string{}
	for k, v := range base {
		badLang[k] = v
	}
	badLang["preferredLanguage"] = "not a tag"
	if q := b.submit(p, badLang); q.status != http.StatusBadRequest || !strings.Contains(q.body, "Preferred language") {
		t.Fatalf("bad language: %d", q.status)
	}
	redirected(t, b.submit(p, base))
	uid, err := env.app.store.UserIDByMail(t.Context(), tid, addr)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := env.app.store.GetUser(t.Context(), tid, uid)
	if u.City != "Paris" || u.Country != "France" || u.PreferredLanguage != "fr-FR" {
		t.Fatalf("stored: %+v", u)
	}
}
