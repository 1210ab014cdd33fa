package storagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

var errUpdater = errors.New("updater refused")

func testTenants(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	a, b := h.tenant(t), h.tenant(t)
	freshName := newID("name")
	steps(t, []step{
		{"get", func() error { return got(s.GetTenant(ctx, a.ID)).is(a) }, nil},
		{"by name", func() error { return got(s.TenantIDByName(ctx, a.Name)).is(a.ID) }, nil},
		{"get missing", func() error { return errOf(s.GetTenant(ctx, newID("tenant"))) }, storage.ErrNotFound},
		{"by missing name", func() error { return errOf(s.TenantIDByName(ctx, freshName)) }, storage.ErrNotFound},
		{"create taken ID", func() error {
			return s.CreateTenant(ctx, storage.Tenant{ID: a.ID, Name: freshName, Kind: storage.Workforce})
		}, storage.ErrExists},
		{"failed create released its name", func() error { return errOf(s.TenantIDByName(ctx, freshName)) }, storage.ErrNotFound},
		{"create taken name", func() error {
			return s.CreateTenant(ctx, storage.Tenant{ID: newID("tenant"), Name: a.Name, Kind: storage.Workforce})
		}, storage.ErrExists},
		{"update", func() error {
			a.DisplayName, a.PasswordMinLength = "Fabrikam", 20
			return got(s.UpdateTenant(ctx, a.ID, func(t *storage.Tenant) error {
				t.DisplayName, t.PasswordMinLength = "Fabrikam", 20
				return nil
			})).is(a)
		}, nil},
		{"updated", func() error { return got(s.GetTenant(ctx, a.ID)).is(a) }, nil},
		{"updater error", func() error {
			return errOf(s.UpdateTenant(ctx, a.ID, func(t *storage.Tenant) error { t.DisplayName = "x"; return errUpdater }))
		}, errUpdater},
		{"updater error wrote nothing", func() error { return got(s.GetTenant(ctx, a.ID)).is(a) }, nil},
		{"update missing", func() error {
			return errOf(s.UpdateTenant(ctx, newID("tenant"), func(*storage.Tenant) error { return nil }))
		}, storage.ErrNotFound},
		{"rename refused or ignored", func() error {
			s.UpdateTenant(ctx, a.ID, func(t *storage.Tenant) error { t.Name = freshName; return nil })
			return errors.Join(got(s.GetTenant(ctx, a.ID)).is(a), got(s.TenantIDByName(ctx, a.Name)).is(a.ID))
		}, nil},
		{"list", func() error {
			ts, err := s.ListTenants(ctx)
			for _, want := range []storage.Tenant{a, b} {
				if !slices.ContainsFunc(ts, func(t storage.Tenant) bool { return t.ID == want.ID && t.Name == want.Name }) {
					return errors.New("tenant " + want.ID + " not listed")
				}
			}
			return err
		}, nil},
	})
}

func testDomains(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	a, b := h.tenant(t), h.tenant(t)
	d1, d2 := newID("b")+".example", newID("a")+".example"
	steps(t, []step{
		{"add", func() error { return s.AddDomain(ctx, a.ID, d1) }, nil},
		{"add again", func() error { return s.AddDomain(ctx, a.ID, d1) }, nil},
		{"add second", func() error { return s.AddDomain(ctx, a.ID, d2) }, nil},
		{"add in another tenant", func() error { return s.AddDomain(ctx, b.ID, d1) }, storage.ErrExists},
		{"tenant by domain", func() error { return got(s.TenantIDByDomain(ctx, d1)).is(a.ID) }, nil},
		{"tenant by missing domain", func() error { return errOf(s.TenantIDByDomain(ctx, newID("c")+".example")) }, storage.ErrNotFound},
		{"list sorted", func() error { return got(s.Domains(ctx, a.ID)).is([]string{d2, d1}) }, nil},
		{"other tenant has none", func() error { return none(s.Domains(ctx, b.ID)) }, nil},
	})
}

func testApps(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	a, b := h.tenant(t), h.tenant(t)
	x, y := app(a.ID, newID("b-client")), app(a.ID, newID("a-client"))
	steps(t, []step{
		{"create", func() error { return s.CreateApp(ctx, a.ID, x) }, nil},
		{"create second", func() error { return s.CreateApp(ctx, a.ID, y) }, nil},
		{"get", func() error { return got(s.GetApp(ctx, a.ID, x.ClientID)).is(x) }, nil},
		{"tenant of client", func() error { return got(s.AppTenant(ctx, x.ClientID)).is(a.ID) }, nil},
		{"create taken client ID", func() error { return s.CreateApp(ctx, a.ID, x) }, storage.ErrExists},
		{"create taken client ID in another tenant", func() error { return s.CreateApp(ctx, b.ID, app(b.ID, x.ClientID)) }, storage.ErrExists},
		{"get from another tenant", func() error { return errOf(s.GetApp(ctx, b.ID, x.ClientID)) }, storage.ErrNotFound},
		{"tenant of missing client", func() error { return errOf(s.AppTenant(ctx, newID("client"))) }, storage.ErrNotFound},
		{"update", func() error {
			x.DisplayName, x.RedirectURIs = "Renamed", append(x.RedirectURIs, "https://app.example/cb2")
			return got(s.UpdateApp(ctx, a.ID, x.ClientID, func(p *storage.App) error {
				p.DisplayName, p.RedirectURIs = x.DisplayName, x.RedirectURIs
				return nil
			})).is(x)
		}, nil},
		{"updated", func() error { return got(s.GetApp(ctx, a.ID, x.ClientID)).is(x) }, nil},
		{"updater error", func() error {
			return errOf(s.UpdateApp(ctx, a.ID, x.ClientID, func(*storage.App) error { return errUpdater }))
		}, errUpdater},
		{"update missing", func() error {
			return errOf(s.UpdateApp(ctx, b.ID, x.ClientID, func(*storage.App) error { return nil }))
		}, storage.ErrNotFound},
		{"list sorted", func() error { return got(s.ListApps(ctx, a.ID)).is([]storage.App{y, x}) }, nil},
		{"list other tenant", func() error { return none(s.ListApps(ctx, b.ID)) }, nil},
	})
}

func testUsers(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	u := user(newID("b-user"), newID("alice")+"@contoso.example", newID("Alice")+"@Contoso.example")
	v := user(newID("a-user"), "", newID("bob")+"@contoso.example")
	mail1, mail2, mail3 := u.Mail, newID("alice2")+"@contoso.example", newID("carol")+"@contoso.example"
	setMail := func(id, mail string) func() error {
		return func() error {
			return errOf(s.UpdateUser(ctx, tn, id, func(p *storage.User) error { p.Mail = mail; return nil }))
		}
	}
	steps(t, []step{
		{"create", func() error { return s.CreateUser(ctx, tn, u, "hash-u") }, nil},
		{"create without mail or password", func() error { return s.CreateUser(ctx, tn, v, "") }, nil},
		{"get", func() error { return got(s.GetUser(ctx, tn, u.ID)).is(u) }, nil},
		{"get missing", func() error { return errOf(s.GetUser(ctx, tn, newID("user"))) }, storage.ErrNotFound},
		{"by mail", func() error { return got(s.UserIDByMail(ctx, tn, u.Mail)).is(u.ID) }, nil},
		{"by missing mail", func() error { return errOf(s.UserIDByMail(ctx, tn, mail2)) }, storage.ErrNotFound},
		{"by UPN", func() error { return got(s.UserIDByUPN(ctx, tn, u.UserPrincipalName)).is(u.ID) }, nil},
		{"by UPN in other case", func() error { return got(s.UserIDByUPN(ctx, tn, strings.ToUpper(u.UserPrincipalName))).is(u.ID) }, nil},
		{"password", func() error { return got(s.PasswordHash(ctx, tn, u.ID)).is("hash-u") }, nil},
		{"no password", func() error { return errOf(s.PasswordHash(ctx, tn, v.ID)) }, storage.ErrNotFound},
		{"password of missing user", func() error { return errOf(s.PasswordHash(ctx, tn, newID("user"))) }, storage.ErrNotFound},
		{"set password", func() error { return s.SetPasswordHash(ctx, tn, v.ID, "hash-v") }, nil},
		{"password set", func() error { return got(s.PasswordHash(ctx, tn, v.ID)).is("hash-v") }, nil},
		{"set password of missing user", func() error { return s.SetPasswordHash(ctx, tn, newID("user"), "h") }, storage.ErrNotFound},
		{"create taken ID", func() error { return s.CreateUser(ctx, tn, user(u.ID, mail3, newID("x")+"@x"), "") }, storage.ErrExists},
		{"failed create released its mail", func() error { return errOf(s.UserIDByMail(ctx, tn, mail3)) }, storage.ErrNotFound},
		{"create taken mail", func() error { return s.CreateUser(ctx, tn, user(newID("user"), u.Mail, newID("x")+"@x"), "") }, storage.ErrExists},
		{"create taken UPN in other case", func() error {
			return s.CreateUser(ctx, tn, user(newID("user"), mail3, strings.ToUpper(u.UserPrincipalName)), "")
		}, storage.ErrExists},
		{"failed create released its mail again", func() error { return errOf(s.UserIDByMail(ctx, tn, mail3)) }, storage.ErrNotFound},
		{"update mail", func() error { u.Mail = mail2; return setMail(u.ID, mail2)() }, nil},
		{"old mail released", func() error { return errOf(s.UserIDByMail(ctx, tn, mail1)) }, storage.ErrNotFound},
		{"new mail indexed", func() error { return got(s.UserIDByMail(ctx, tn, mail2)).is(u.ID) }, nil},
		{"update to taken mail", setMail(v.ID, mail2), storage.ErrExists},
		{"refused update wrote nothing", func() error { return got(s.GetUser(ctx, tn, v.ID)).is(v) }, nil},
		{"update to taken UPN", func() error {
			return errOf(s.UpdateUser(ctx, tn, v.ID, func(p *storage.User) error {
				p.UserPrincipalName = strings.ToUpper(u.UserPrincipalName)
				return nil
			}))
		}, storage.ErrExists},
		{"change UPN case", func() error {
			u.UserPrincipalName = strings.ToUpper(u.UserPrincipalName)
			return got(s.UpdateUser(ctx, tn, u.ID, func(p *storage.User) error {
				p.UserPrincipalName = u.UserPrincipalName
				return nil
			})).is(u)
		}, nil},
		{"UPN still indexed", func() error { return got(s.UserIDByUPN(ctx, tn, u.UserPrincipalName)).is(u.ID) }, nil},
		{"clear mail", setMail(u.ID, ""), nil},
		{"cleared mail released", func() error { return errOf(s.UserIDByMail(ctx, tn, mail2)) }, storage.ErrNotFound},
		{"released mail can be taken", setMail(v.ID, mail2), nil},
		{"taken", func() error { return got(s.UserIDByMail(ctx, tn, mail2)).is(v.ID) }, nil},
		{"updater error", func() error {
			return errOf(s.UpdateUser(ctx, tn, u.ID, func(*storage.User) error { return errUpdater }))
		}, errUpdater},
		{"update missing", setMail(newID("user"), ""), storage.ErrNotFound},
		{"list sorted", func() error {
			us, err := s.ListUsers(ctx, tn)
			if len(us) != 2 || us[0].ID != v.ID || us[1].ID != u.ID {
				return errors.New("users not listed in ID order")
			}
			return err
		}, nil},
	})
}

func testSigningKeys(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	k1 := storage.SigningKey{
		ID: newID("kid"), TenantID: tn, Algorithm: "ES256", Status: storage.KeyCurrent,
		PublicJWK: []byte(`{"kty":"EC"}`), Sealed: []byte{9, 9, 9}, CreatedAt: h.now(),
	}
	k2 := k1
	k2.ID, k2.Status = newID("kid"), storage.KeyNext
	retired := k1
	retired.Status, retired.NotAfter = storage.KeyPrevious, h.now().Add(24*time.Hour)
	steps(t, []step{
		{"none", func() error { return none(s.SigningKeys(ctx, tn)) }, nil},
		{"add", func() error {
			return got(s.UpdateSigningKeys(ctx, tn, func(ks []storage.SigningKey) ([]storage.SigningKey, error) {
				return append(ks, k1), nil
			})).is([]storage.SigningKey{k1})
		}, nil},
		{"read", func() error { return got(s.SigningKeys(ctx, tn)).is([]storage.SigningKey{k1}) }, nil},
		{"updater error", func() error {
			return errOf(s.UpdateSigningKeys(ctx, tn, func([]storage.SigningKey) ([]storage.SigningKey, error) {
				return nil, errUpdater
			}))
		}, errUpdater},
		{"rotate", func() error {
			return got(s.UpdateSigningKeys(ctx, tn, func(ks []storage.SigningKey) ([]storage.SigningKey, error) {
				if len(ks) != 1 {
					return nil, errors.New("updater got the wrong set")
				}
				return []storage.SigningKey{retired, k2}, nil
			})).is([]storage.SigningKey{retired, k2})
		}, nil},
		{"rotated", func() error { return got(s.SigningKeys(ctx, tn)).is([]storage.SigningKey{retired, k2}) }, nil},
	})
}
