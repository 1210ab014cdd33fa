package provision

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/foyer-id/foyer/storage"
)

// DevTenant is the name of the tenant `foyer serve --dev` provisions.
const DevTenant = "contoso"

// DevStore is what Dev reads to find out what exists already.
type DevStore interface {
	TenantIDByName(ctx context.Context, name string) (string, error)
	UserIDByUPN(ctx context.Context, tenantID, upn string) (string, error)
	AppTenant(ctx context.Context, clientID string) (string, error)
}

// DevCredentials are the secrets Dev generated, to be shown once.
type DevCredentials struct {
	TenantName string
	TenantID   string
	Users      []DevUser
	Apps       []DevApp
}

// DevUser is a user of the dev tenant.
type DevUser struct {
	UserPrincipalName string
	Roles             []string
	// Password is the generated password; empty when the user existed
	// (its password is unchanged).
	Password string
	Existing bool
}

// DevApp is an app of the dev tenant.
type DevApp struct {
	ClientID     string
	RedirectURI  string
	Confidential bool
	// Secret is the generated client secret of a confidential app; empty
	// when the app existed (its secret is unchanged).
	Secret   string
	Existing bool
}

// Dev builds the document of `foyer serve --dev`: the external tenant
// contoso with the verified domain contoso.com, a public SPA contoso-spa, a
// confidential web app contoso-web, a demo user demo@contoso.com and a
// Global Administrator admin@contoso.com.
//
// Passwords and the client secret are generated (crypto/rand) only for
// what does not exist yet: an existing dev tenant keeps its users'
// passwords and its app's secret. The generated values are returned, not
// stored in clear, so the caller can print them once.
func Dev(ctx context.Context, st DevStore) (*Document, DevCredentials, error) {
	const domain = "contoso.com"
	scopes := []string{"openid", "profile", "email", "offline_access", "User.Read", "User.ReadWrite", "Directory.AccessAsUser.All"}
	t := Tenant{
		Name:        DevTenant,
		DisplayName: "Contoso (dev)",
		Kind:        storage.External,
		Domains:     []string{domain},
		Apps: []App{{
			ClientID:               "contoso-spa",
			DisplayName:            "Contoso SPA",
			RedirectURIs:           []string{"http://localhost:3000/callback"},
			PostLogoutRedirectURIs: []string{"http://localhost:3000/"},
			Scopes:                 scopes,
			SignUpEnabled:          true,
		}, {
			ClientID:               "contoso-web",
			DisplayName:            "Contoso Web",
			RedirectURIs:           []string{"http://localhost:8081/callback"},
			PostLogoutRedirectURIs: []string{"http://localhost:8081/"},
			Scopes:                 scopes,
			SignUpEnabled:          true,
			// The tenant's own web app: the admin consented for every user.
			// The SPA shows the consent page.
			PreConsented: true,
		}},
		Users: []User{{
			UserPrincipalName: "demo@" + domain,
			Mail:              "demo@" + domain,
			DisplayName:       "Demo User",
		}, {
			UserPrincipalName: "admin@" + domain,
			Mail:              "admin@" + domain,
			DisplayName:       "Admin",
			Roles:             []string{"Global Administrator"},
		}},
	}
	creds := DevCredentials{TenantName: DevTenant}

	id, err := st.TenantIDByName(ctx, DevTenant)
	exists := err == nil
	switch {
	case errors.Is(err, storage.ErrNotFound):
		id = storage.NewID()
		t.ID = id
	case err != nil:
		return nil, creds, err
	}
	creds.TenantID = id

	for i := range t.Users {
		u := &t.Users[i]
		du := DevUser{UserPrincipalName: u.UserPrincipalName, Roles: u.Roles}
		if exists {
			_, err := st.UserIDByUPN(ctx, id, u.UserPrincipalName)
			switch {
			case err == nil:
				du.Existing = true
				u.DisplayName = "" // keep the profile as the user left it
			case !errors.Is(err, storage.ErrNotFound):
				return nil, creds, err
			}
		}
		if !du.Existing {
			u.password = randomString(15) // 20 characters, 120 bits
			du.Password = u.password
		}
		creds.Users = append(creds.Users, du)
	}

	for i := range t.Apps {
		a := &t.Apps[i]
		da := DevApp{ClientID: a.ClientID, RedirectURI: a.RedirectURIs[0], Confidential: a.ClientID == "contoso-web"}
		_, err := st.AppTenant(ctx, a.ClientID)
		switch {
		case err == nil:
			da.Existing = true
		case !errors.Is(err, storage.ErrNotFound):
			return nil, creds, err
		}
		if da.Confidential {
			if da.Existing {
				a.keepSecret = true
			} else {
				a.secret = randomString(32) // 256 bits
				da.Secret = a.secret
			}
		}
		creds.Apps = append(creds.Apps, da)
	}

	return &Document{Tenants: []Tenant{t}, source: "--dev", resolved: true}, creds, nil
}

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand.Read panics rather than return an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// WriteTo writes the credentials for a person to read, one line each;
// existing users and apps read "existing, password unchanged" and
// "existing, secret unchanged".
func (c DevCredentials) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "dev tenant %s: id %s\n", c.TenantName, c.TenantID)
	for _, u := range c.Users {
		who := u.UserPrincipalName
		if len(u.Roles) > 0 {
			who += " (" + strings.Join(u.Roles, ", ") + ")"
		}
		if u.Existing {
			fmt.Fprintf(&b, "  user %s: existing, password unchanged\n", who)
		} else {
			fmt.Fprintf(&b, "  user %s: password %s\n", who, u.Password)
		}
	}
	for _, a := range c.Apps {
		switch {
		case !a.Confidential:
			fmt.Fprintf(&b, "  app %s: public client, redirect URI %s\n", a.ClientID, a.RedirectURI)
		case a.Existing:
			fmt.Fprintf(&b, "  app %s: confidential client, redirect URI %s: existing, secret unchanged\n", a.ClientID, a.RedirectURI)
		default:
			fmt.Fprintf(&b, "  app %s: confidential client, redirect URI %s: client secret %s\n", a.ClientID, a.RedirectURI, a.Secret)
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
