package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/storage"
)

func TestDev(t *testing.T) {
	testDev(t, newFixture(t, nil, nil))
}

func testDev(t *testing.T, f *fixture) {
	ctx := context.Background()
	d, creds, err := Dev(ctx, f.store)
	if err != nil {
		t.Fatal(err)
	}
	if !storage.IsID(creds.TenantID) || creds.TenantName != "contoso" {
		t.Errorf("creds = %+v", creds)
	}
	var secrets []string
	for _, u := range creds.Users {
		if u.Existing || len(u.Password) != 20 {
			t.Errorf("first run: user %+v, want a new 20-character password", u)
		}
		secrets = append(secrets, u.Password)
	}
	if len(creds.Users) != 2 || creds.Users[0].Password == creds.Users[1].Password {
		t.Errorf("users = %+v", creds.Users)
	}
	var web DevApp
	for _, a := range creds.Apps {
		if a.ClientID == "contoso-web" {
			web = a
		} else if a.Confidential || a.Secret != "" {
			t.Errorf("app %+v should be public", a)
		}
	}
	if raw, err := base64.RawURLEncoding.DecodeString(web.Secret); err != nil || len(raw) != 32 || !web.Confidential {
		t.Errorf("web app = %+v, want a 32-byte base64url secret", web)
	}
	secrets = append(secrets, web.Secret)

	rep := f.apply(t, d)
	checkReport(t, rep, counts(1, 0, 0), counts(1, 0, 0), counts(2, 0, 0), counts(2, 0, 0))
	if rep.TenantIDs["contoso"] != creds.TenantID {
		t.Errorf("tenant ID %s, credentials say %s", rep.TenantIDs["contoso"], creds.TenantID)
	}
	dump := f.dump()
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("the store holds the generated secret %q in clear", s)
		}
	}

	tid := creds.TenantID
	tenant, _ := f.store.GetTenant(ctx, tid)
	if tenant.DisplayName != "Contoso (dev)" || tenant.Kind != storage.External {
		t.Errorf("tenant = %+v", tenant)
	}
	if got, _ := f.store.TenantIDByDomain(ctx, "contoso.com"); got != tid {
		t.Errorf("contoso.com verified in %q", got)
	}
	app, _ := f.store.GetApp(ctx, tid, "contoso-web")
	if sum := sha256.Sum256([]byte(web.Secret)); !bytes.Equal(app.SecretHash, sum[:]) {
		t.Errorf("web secret hash does not match the printed secret")
	}
	spa, _ := f.store.GetApp(ctx, tid, "contoso-spa")
	wantScopes := []string{"openid", "profile", "email", "offline_access", "User.Read", "User.ReadWrite", "Directory.AccessAsUser.All"}
	if spa.Confidential() || !spa.SignUpEnabled || !slices.Equal(spa.AllowedScopes, wantScopes) ||
		!slices.Equal(spa.RedirectURIs, []string{"http://localhost:3000/callback"}) ||
		!slices.Equal(spa.PostLogoutRedirectURIs, []string{"http://localhost:3000/"}) {
		t.Errorf("spa = %+v", spa)
	}
	adminID, _ := f.store.UserIDByUPN(ctx, tid, "admin@contoso.com")
	admin, _ := f.store.GetUser(ctx, tid, adminID)
	if !slices.Equal(admin.Roles, []string{"Global Administrator"}) || !hasIdentity(&admin, "userPrincipalName") {
		t.Errorf("admin = %+v", admin)
	}
	demoID, _ := f.store.UserIDByMail(ctx, tid, "demo@contoso.com")
	demo, _ := f.store.GetUser(ctx, tid, demoID)
	if len(demo.Roles) != 0 || hasIdentity(&demo, "userPrincipalName") || !hasIdentity(&demo, "emailAddress") {
		t.Errorf("demo = %+v", demo)
	}

	// The demo user edits their profile; then Foyer restarts on the same
	// store: nothing new is generated and nothing changes.
	if _, err := f.store.UpdateUser(ctx, tid, demoID, func(u *storage.User) error { u.DisplayName = "Dee"; return nil }); err != nil {
		t.Fatal(err)
	}
	before := f.dump()
	d, creds2, err := Dev(ctx, f.store)
	if err != nil {
		t.Fatal(err)
	}
	if creds2.TenantID != tid {
		t.Errorf("second run tenant %s, want %s", creds2.TenantID, tid)
	}
	for _, u := range creds2.Users {
		if !u.Existing || u.Password != "" {
			t.Errorf("second run: user %+v, want existing without password", u)
		}
	}
	for _, a := range creds2.Apps {
		if !a.Existing || a.Secret != "" {
			t.Errorf("second run: app %+v, want existing without secret", a)
		}
	}
	rep = f.apply(t, d)
	if rep.Changes() != 0 {
		t.Errorf("second dev apply: %v", rep)
	}
	if f.dump() != before {
		t.Errorf("second dev apply changed the store")
	}

	var out bytes.Buffer
	if _, err := creds2.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	want := "dev tenant contoso: id " + tid + "\n" +
		"  user demo@contoso.com: existing, password unchanged\n" +
		"  user admin@contoso.com (Global Administrator): existing, password unchanged\n" +
		"  app contoso-spa: public client, redirect URI http://localhost:3000/callback\n" +
		"  app contoso-web: confidential client, redirect URI http://localhost:8081/callback: existing, secret unchanged\n"
	if out.String() != want {
		t.Errorf("WriteTo:\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	creds.WriteTo(&out)
	if !strings.Contains(out.String(), "  user demo@contoso.com: password "+creds.Users[0].Password+"\n") ||
		!strings.Contains(out.String(), "client secret "+web.Secret+"\n") {
		t.Errorf("first-run WriteTo lacks the secrets:\n%s", out.String())
	}
}
