package oidcop

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/foyer-id/foyer/provider/sso"
)

// tokenCodec implements zitadel's op.Crypto, which has no context.
//
// zitadel calls Encrypt in two places: with an auth request ID to build an
// authorization code, and with "tokenID:subject" to build a bearer access
// token. Foyer's codes are random (the auth request is found by the code's
// SHA-256), and Foyer's token IDs are the signed at+jwt itself, so Encrypt
// returns a fresh random code for the first and the token for the second.
//
// Decrypt returns "jti:sub" from an access token's payload WITHOUT checking
// it: the handler verified the token (signature, claims, revocation) before
// zitadel ran and left the claims in the request state, and every storage
// callback that acts on a token ID compares it with those verified claims.
type tokenCodec struct{}

func (tokenCodec) Encrypt(s string) (string, error) {
	// A compact JWS never contains ':', so the token ends at the first one.
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.Count(s[:i], ".") == 2 {
		return s[:i], nil
	}
	return sso.NewSecret(), nil
}

func (tokenCodec) Decrypt(s string) (string, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(s) > 8192 {
		return "", errNotAccessToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errNotAccessToken
	}
	var c struct {
		ID  string `json:"jti"`
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil || c.ID == "" || c.Sub == "" ||
		strings.Contains(c.ID, ":") || strings.Contains(c.Sub, ":") {
		return "", errNotAccessToken
	}
	return c.ID + ":" + c.Sub, nil
}
