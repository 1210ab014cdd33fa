package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/foyer-id/foyer/provider/sso"
)

// csrf issues and checks form tokens bound to a browser cookie and a flow.
type csrf struct {
	key      []byte
	insecure bool
}

func (c csrf) cookieName() string {
	if c.insecure {
		return "foyer-csrf"
	}
	return "__Host-foyer-csrf"
}

// token returns the form token for flow, setting the browser cookie when
// the browser has none.
func (c csrf) token(w http.ResponseWriter, r *http.Request, flow string) string {
	v := ""
	if ck, err := r.Cookie(c.cookieName()); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 64 {
		v = ck.Value
	} else {
		v = sso.NewSecret()
		http.SetCookie(w, &http.Cookie{
			Name: c.cookieName(), Value: v, Path: "/", HttpOnly: true,
			Secure: !c.insecure, SameSite: http.SameSiteStrictMode,
		})
	}
	return c.mac(v, flow)
}

func (c csrf) mac(cookie, flow string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(cookie))
	m.Write([]byte{0})
	m.Write([]byte(flow))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid reports whether the submitted token matches this browser and flow.
func (c csrf) valid(r *http.Request, flow, submitted string) bool {
	ck, err := r.Cookie(c.cookieName())
	if err != nil || ck.Value == "" || submitted == "" {
		return false
	}
	return hmac.Equal([]byte(c.mac(ck.Value, flow)), []byte(submitted))
}

// binding identifies this browser to a server-side flow: the SHA-256 of its
// CSRF cookie ("" when it has none, which no flow matches).
func (c csrf) binding(r *http.Request) string {
	ck, err := r.Cookie(c.cookieName())
	if err != nil || len(ck.Value) < 32 || len(ck.Value) > 64 {
		return ""
	}
	return sso.Hash(ck.Value)
}
