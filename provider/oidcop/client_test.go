package oidcop

import (
	"slices"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/storage"
)

func TestClient(t *testing.T) {
	app := storage.App{
		ClientID:               "web",
		RedirectURIs:           []string{"https://app.example/cb", "http://127.0.0.1:8400/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		AllowedScopes:          []string{"openid", "profile", "User.Read"},
	}
	confidential := app
	confidential.SecretHash = []byte("0123456789abcdef0123456789abcdef")

	for _, tc := range []struct {
		name string
		app  storage.App
		auth oidc.AuthMethod
	}{
		{"public", app, oidc.AuthMethodNone},
		{"confidential", confidential, oidc.AuthMethodBasic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &client{app: tc.app, idTTL: 5 * time.Minute, loginURL: func(id string) string { return "/login?authRequestID=" + id }}
			if c.GetID() != "web" || !slices.Equal(c.RedirectURIs(), app.RedirectURIs) ||
				!slices.Equal(c.PostLogoutRedirectURIs(), app.PostLogoutRedirectURIs) {
				t.Errorf("registration not passed through: %q %q %q", c.GetID(), c.RedirectURIs(), c.PostLogoutRedirectURIs())
			}
			if c.AuthMethod() != tc.auth {
				t.Errorf("AuthMethod = %q, want %q", c.AuthMethod(), tc.auth)
			}
			// Native-app loopback relaxation must never apply: redirect
			// URIs match exactly (guard.go), even loopback ones.
			if c.ApplicationType() != op.ApplicationTypeWeb {
				t.Errorf("ApplicationType = %v, want web", c.ApplicationType())
			}
			if !slices.Equal(c.ResponseTypes(), []oidc.ResponseType{oidc.ResponseTypeCode}) {
				t.Errorf("ResponseTypes = %q, want only code", c.ResponseTypes())
			}
			if gt := c.GrantTypes(); !slices.Equal(gt, []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}) {
				t.Errorf("GrantTypes = %q, want code and refresh_token only", gt)
			}
			// Bearer makes zitadel hand Foyer's at+jwt through tokenCodec
			// instead of signing a JWT of its own with the ID-token key.
			if c.AccessTokenType() != op.AccessTokenTypeBearer {
				t.Errorf("AccessTokenType = %v, want bearer", c.AccessTokenType())
			}
			if c.IDTokenLifetime() != 5*time.Minute || c.ClockSkew() != 0 || !c.IDTokenUserinfoClaimsAssertion() {
				t.Errorf("IDTokenLifetime %v, ClockSkew %v, IDTokenUserinfoClaimsAssertion %v",
					c.IDTokenLifetime(), c.ClockSkew(), c.IDTokenUserinfoClaimsAssertion())
			}
			if got := c.LoginURL("ar1"); got != "/login?authRequestID=ar1" {
				t.Errorf("LoginURL = %q", got)
			}
			for scope, want := range map[string]bool{"openid": true, "User.Read": true, "email": false, "User.ReadWrite.All": false, "": false} {
				if c.IsScopeAllowed(scope) != want {
					t.Errorf("IsScopeAllowed(%q) = %v, want %v", scope, !want, want)
				}
			}
			scopes := []string{"openid", "User.Read"}
			if got := c.RestrictAdditionalIdTokenScopes()(scopes); !slices.Equal(got, scopes) {
				t.Errorf("RestrictAdditionalIdTokenScopes changed %q to %q", scopes, got)
			}
			if got := c.RestrictAdditionalAccessTokenScopes()(scopes); !slices.Equal(got, scopes) {
				t.Errorf("RestrictAdditionalAccessTokenScopes changed %q to %q", scopes, got)
			}
		})
	}
}
