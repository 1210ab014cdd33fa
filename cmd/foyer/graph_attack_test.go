package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/keys"
)

// jwtParts returns the decoded header and claims of a compact JWS.
func jwtParts(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signWith signs claims with go-jose under key, with kid and extra header
// parameters (typ at+jwt unless header sets another).
func signWith(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, header map[jose.HeaderKey]any, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	for k, v := range header {
		opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestGraphRejectsBadTokens presents forged, altered and misdirected
// tokens: each must get 401 invalid_token, and the genuine one must work.
func TestGraphRejectsBadTokens(t *testing.T) {
	w := startGraphWorld(t)
	x, w1 := w.x, w.w1
	ctx := t.Context()
	tok := w.as(x, "cust").token(t, "web", "openid", "profile", "offline_access", "User.Read")
	valid := tok.AccessToken
	_, claims := jwtParts(t, valid)
	es, err := w.env.app.keys.Signer(ctx, x.id, keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := w.env.app.keys.Signer(ctx, x.id, keys.RS256)
	if err != nil {
		t.Fatal(err)
	}
	otherES, err := w.env.app.keys.Signer(ctx, w1.id, keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := x509.MarshalPKIXPublicKey(rs.Signer().Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	hs256 := func(key []byte, header map[string]any, c map[string]any) string {
		in := b64json(t, header) + "." + b64json(t, c)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	now := time.Now().Unix()
	parts := strings.Split(valid, ".")

	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", valid, nil), http.StatusOK)

	for _, tc := range []struct {
		name  string
		token func() string
	}{
		{"alg none", func() string {
			return b64json(t, map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + parts[1] + "."
		}},
		{"alg none with the genuine signature", func() string {
			return b64json(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": es.ID()}) + "." + parts[1] + "." + parts[2]
		}},
		{"HS256 keyed with the tenant's RSA public key (PEM)", func() string {
			return hs256(rsaPEM, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": rs.ID()}, claims)
		}},
		{"HS256 keyed with the tenant's RSA public key (DER)", func() string {
			return hs256(rsaPub, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": rs.ID()}, claims)
		}},
		{"a foreign key under the tenant's kid", func() string {
			return signWith(t, jose.ES256, foreign, es.ID(), nil, claims)
		}},
		{"a foreign key with its own kid", func() string {
			return signWith(t, jose.ES256, foreign, "attacker-key", nil, claims)
		}},
		{"jku pointing at the attacker's key set", func() string {
			return signWith(t, jose.ES256, foreign, "attacker-key", map[jose.HeaderKey]any{"jku": "https://evil.example/jwks.json"}, claims)
		}},
		{"jku with the tenant's kid", func() string {
			return signWith(t, jose.ES256, foreign, es.ID(), map[jose.HeaderKey]any{"jku": w.env.base + "/" + x.id + "/v2.0/keys"}, claims)
		}},
		{"embedded jwk", func() string {
			return signWith(t, jose.ES256, foreign, "", map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: foreign.Public(), Algorithm: "ES256"}}, claims)
		}},
		{"x5u", func() string {
			return signWith(t, jose.ES256, foreign, es.ID(), map[jose.HeaderKey]any{"x5u": "https://evil.example/cert.pem"}, claims)
		}},
		{"kid path traversal", func() string {
			return signWith(t, jose.ES256, foreign, "../../../../dev/null", nil, claims)
		}},
		{"kid of the RS256 key on an ES256 signature", func() string {
			return signWith(t, jose.ES256, es.Key(), rs.ID(), nil, claims)
		}},
		{"another tenant's key, this tenant's claims", func() string {
			return signWith(t, jose.ES256, otherES.Key(), otherES.ID(), nil, claims)
		}},
		{"expired, signed by the tenant", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "exp", now-1, "iat", now-3601, "nbf", now-3601))
		}},
		{"not yet valid", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "nbf", now+600))
		}},
		{"truncated signature", func() string { return valid[:len(valid)-6] }},
		{"signature removed", func() string { return parts[0] + "." + parts[1] + "." }},
		{"payload altered (scope added)", func() string {
			return parts[0] + "." + b64json(t, with(claims, "scp", "User.Read User.ReadWrite Directory.AccessAsUser.All")) + "." + parts[2]
		}},
		{"payload altered (tid of another tenant)", func() string {
			return parts[0] + "." + b64json(t, with(claims, "tid", w1.id)) + "." + parts[2]
		}},
		{"tenant A's key, tid of tenant B", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "tid", w1.id, "iss", w.env.base+"/"+w1.id+"/v2.0"))
		}},
		{"tid of an unknown tenant", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "tid", "00000000-0000-4000-8000-000000000000"))
		}},
		{"tid not a GUID", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "tid", x.name))
		}},
		{"tid common", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "tid", "common"))
		}},
		{"another audience", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "aud", "https://graph.microsoft.com"))
		}},
		{"audience as an array", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "aud", []string{claims["aud"].(string)}))
		}},
		{"another issuer", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "iss", "https://login.evil.example/"+x.id+"/v2.0"))
		}},
		{"the common issuer, signed by the tenant", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "iss", w.env.base+"/common/v2.0"))
		}},
		{"typ JWT (an ID token's)", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), map[jose.HeaderKey]any{jose.HeaderType: "JWT"}, claims)
		}},
		{"the ID token", func() string { return tok.Extra("id_token").(string) }},
		{"the refresh token", func() string { return tok.RefreshToken }},
		{"a grant that does not exist", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "jti", "00000000-0000-4000-8000-000000000000.x"))
		}},
		{"another user's subject", func() string {
			return signWith(t, jose.ES256, es.Key(), es.ID(), nil, with(claims, "sub", "00000000-0000-4000-8000-000000000001"))
		}},
		{"garbage", func() string { return "a.b.c" }},
		{"not a JWS", func() string { return "0123456789abcdef" }},
		{"too long", func() string { return strings.Repeat("a", 9000) + "." + parts[1] + "." + parts[2] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.token()
			for _, m := range []string{http.MethodGet, http.MethodPatch} {
				var body any
				if m == http.MethodPatch {
					body = `{"city":"Forged"}`
				}
				wantInvalidToken(t, w.call(t, m, "/v1.0/me", raw, body))
			}
		})
	}
	if u, _ := w.env.app.store.GetUser(ctx, x.id, x.user(t, "cust").ID); u.City == "Forged" {
		t.Fatal("a forged token changed the profile")
	}

	t.Run("the Authorization header must be one Bearer header", func(t *testing.T) {
		for _, hs := range [][]string{{"Basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))}, {"Bearer " + valid, "Bearer " + valid},
			{"Bearer"}, {"Bearer  " + valid + " extra"}, {"Bearer " + valid + ",x"}, {"Bearer \"" + valid + "\""}} {
			req, _ := http.NewRequest(http.MethodGet, w.env.base+"/v1.0/me", nil)
			for _, h := range hs {
				req.Header.Add("Authorization", h)
			}
			r := w.do(t, req)
			wantGraphError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
		}
	})
}
