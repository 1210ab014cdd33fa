package oidcop

import (
	"context"

	"golang.org/x/text/language"

	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/storage"
)

// reqState is scratch space for one request, shared between zitadel's
// callbacks into Foyer (which receive only a context): the apps already
// read, the access token the handler verified, the ID-token algorithm of
// the client being served, and the browser's SSO session.
type reqState struct {
	apps         map[string]storage.App // read once per request
	claims       *bearer.Claims
	idTokenAlg   string
	sessionHash  string
	clearSession bool
	// issued is the user a token response is for (client_info, msal.go).
	issued *clientInfo
	// postLogoutRedirectURI and logoutState are the end-session request's
	// own parameters, for a request without client_id (storage.go).
	postLogoutRedirectURI, logoutState string
	// codeVerifier is the PKCE verifier of a token request, which tells
	// the client repeating a code exchange from a replay; code is the
	// code a code exchange took (it seals the grant's first refresh
	// token) and repeated whether the exchange repeats an earlier one.
	codeVerifier string
	code         string
	repeated     bool
}

type stateKey struct{}

func withState(ctx context.Context, s *reqState) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}

// state returns the request's scratch space; a throwaway one outside a
// request so callers never need a nil check.
func state(ctx context.Context) *reqState {
	if s, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{}
}

func parseLang(s string) language.Tag {
	t, err := language.Parse(s)
	if err != nil {
		return language.Und
	}
	return t
}
